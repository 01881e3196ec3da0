package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// userHZ is the unit of /proc times: USER_HZ is 100 on every Linux ABI.
const userHZ = 100

// parseStat returns comm, utime+stime and stime in seconds from the text of
// a /proc/PID/stat or /proc/PID/task/TID/stat file. comm may hold spaces
// and parentheses, so the fields after it are found from the last ')'.
func parseStat(s string) (comm string, cpu, sys float64, err error) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0, 0, fmt.Errorf("stat %q: no (comm)", s)
	}
	f := strings.Fields(s[end+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return "", 0, 0, fmt.Errorf("stat %q: %d fields after comm, want at least 13", s, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, 0, fmt.Errorf("stat %q: utime %q stime %q are not counts", s, f[11], f[12])
	}
	return s[open+1 : end], float64(ut+st) / userHZ, float64(st) / userHZ, nil
}

// ProcCPU returns the utime+stime of process pid in seconds.
func ProcCPU(pid int) (float64, error) {
	cpu, _, err := ProcTimes(pid)
	return cpu, err
}

// ProcTimes returns the utime+stime and the stime of process pid in
// seconds.
func ProcTimes(pid int) (cpu, sys float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	_, cpu, sys, err = parseStat(string(b))
	return cpu, sys, err
}

// KworkerStats lists the stat files of every kworker thread. Reading only
// these keeps a CPU sample cheap enough to take ten times a second under
// emulation; a worker created later is missed and one that exits takes its
// time with it, so KworkerCPU over a list is a lower bound.
func KworkerStats() []string {
	paths, _ := filepath.Glob("/proc/[0-9]*/task/[0-9]*/stat")
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread exited
		}
		if comm, _, _, err := parseStat(string(b)); err == nil && strings.HasPrefix(comm, "kworker") {
			out = append(out, p)
		}
	}
	return out
}

// KworkerCPU returns the total utime+stime of the threads whose stat files
// are listed, in seconds.
func KworkerCPU(stats []string) float64 {
	var total float64
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if _, cpu, _, err := parseStat(string(b)); err == nil {
			total += cpu
		}
	}
	return total
}

// parseBusy returns the non-idle time of the "cpu" line of /proc/stat in
// seconds: everything except idle and iowait (guest time is already in
// user and nice).
func parseBusy(s string) (float64, error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: first line %q is not the cpu total", line)
	}
	var busy uint64
	for i, v := range f[1:min(len(f), 9)] { // user nice system idle iowait irq softirq steal
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: cpu field %d %q: %v", i+1, v, err)
		}
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return float64(busy) / userHZ, nil
}

// BusyCPU returns the whole machine's non-idle CPU time in seconds.
func BusyCPU() (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseBusy(string(b))
}

// parseStatus returns VmHWM (KiB) and Threads from /proc/PID/status text.
func parseStatus(s string) (hwmKiB int64, threads int, err error) {
	var haveHWM, haveThreads bool
	for line := range strings.Lines(s) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "VmHWM":
			hwmKiB, err = strconv.ParseInt(f[0], 10, 64)
			haveHWM = err == nil
		case "Threads":
			threads, err = strconv.Atoi(f[0])
			haveThreads = err == nil
		}
		if err != nil {
			return 0, 0, fmt.Errorf("status: %s %q: %v", k, f[0], err)
		}
	}
	if !haveHWM || !haveThreads {
		return 0, 0, fmt.Errorf("status: VmHWM or Threads missing")
	}
	return hwmKiB, threads, nil
}

// ProcStatus returns the peak RSS (KiB) and the thread count of pid.
func ProcStatus(pid int) (hwmKiB int64, threads int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	return parseStatus(string(b))
}

// CtxSwitches returns the context switches, voluntary and not, of every
// thread of pid so far; 0 when pid is 0 or gone.
func CtxSwitches(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	paths, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/[0-9]*/status", pid))
	var total int64
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		total += parseCtxSwitches(string(b))
	}
	return total
}

// parseCtxSwitches sums voluntary_ctxt_switches and
// nonvoluntary_ctxt_switches of /proc/PID/task/TID/status text.
func parseCtxSwitches(s string) int64 {
	var n int64
	for line := range strings.Lines(s) {
		k, v, ok := strings.Cut(line, ":")
		if ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
			c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			n += c
		}
	}
	return n
}
