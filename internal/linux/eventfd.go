package linux

import (
	"os"

	"golang.org/x/sys/unix"
)

// NewEventfd creates a non-blocking eventfd for IOCB_FLAG_RESFD. It returns
// the descriptor number for IOCB.ResFD together with an *os.File registered
// with the runtime poller, so a goroutine reading it parks without holding an
// OS thread. The file owns the descriptor; never call its Fd method, which
// would switch it back to blocking mode.
func NewEventfd() (int, *os.File, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return -1, nil, os.NewSyscallError("eventfd", err)
	}
	return fd, os.NewFile(uintptr(fd), "eventfd"), nil
}

// ReadEventfd reads and so clears an eventfd's counter. It reports
// whether anything had been signalled: on a non-blocking eventfd with
// nothing signalled the read fails with EAGAIN.
func ReadEventfd(fd int) bool {
	var counter [8]byte
	n, err := unix.Read(fd, counter[:])
	return err == nil && n == len(counter)
}
