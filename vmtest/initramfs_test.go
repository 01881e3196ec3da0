package vmtest

import (
	"os/exec"
	"reflect"
	"testing"
)

func TestParseLdd(t *testing.T) {
	out := []byte("\tlinux-vdso.so.1 (0x00007ffc)\n" +
		"\tlibusb-1.0.so.0 => /lib/x86_64-linux-gnu/libusb-1.0.so.0 (0x00007f1)\n" +
		"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2)\n" +
		"\t/lib64/ld-linux-x86-64.so.2 (0x00007f3)\n")
	want := []string{"/lib/x86_64-linux-gnu/libusb-1.0.so.0", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}
	if got := parseLdd(out); !reflect.DeepEqual(got, want) {
		t.Fatalf("parseLdd = %q, want %q", got, want)
	}
}

func TestSharedLibsOfStaticAndDynamic(t *testing.T) {
	if _, err := exec.LookPath("ldd"); err != nil {
		t.Skip("ldd not installed")
	}
	libs, err := sharedLibs("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	var libc bool
	for _, l := range libs {
		if reflect.DeepEqual(l[len(l)-9:], "libc.so.6") {
			libc = true
		}
	}
	if !libc {
		t.Fatalf("/bin/true libs %q lack libc.so.6", libs)
	}
}
