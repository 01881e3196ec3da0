package vmtest

// Paths inside the guest.
const (
	guestSpec    = "/vmtest/spec.json"
	guestBin     = "/vmtest/bin"
	guestOut     = "/vmtest/out"
	guestModDir  = "/lib/modules/vmtest"              // carried modules, one .ko per Module.File
	guestModList = "/lib/modules/vmtest/modules.json" // []Module in load order
)

// spec is what the host tells the guest's init, as /vmtest/spec.json.
type spec struct {
	Argv      []string          `json:"argv"`
	Dir       string            `json:"dir"`
	Env       []string          `json:"env"`
	Load      []string          `json:"load"`   // modules to load at boot, in order
	Params    map[string]string `json:"params"` // module name -> parameters
	TimeoutMS int64             `json:"timeout_ms"`
}

// baseModules are loaded at every boot: the gadget stack, dummy_hcd and the
// kernel's reference SourceSink/Loopback functions.
var baseModules = []string{"usb_common", "usbcore", "udc_core", "dummy_hcd", "configfs", "libcomposite", "usb_f_fs", "usb_f_ss_lb"}

// carriedModules are put in the guest too, for guest.LoadModule on demand:
// the host test driver, the kernel functions configfs can instantiate, and
// udmabuf, the DMA-BUF exporter the conformance suite attaches to FunctionFS
// endpoints (built in, a module or absent depending on the kernel).
var carriedModules = []string{"usbtest", "usb_f_acm", "usb_f_serial", "usb_f_ncm", "usb_f_ecm", "usb_f_mass_storage", "usb_f_hid", "udmabuf"}
