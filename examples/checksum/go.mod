module example.com/checksum

go 1.26.0

require github.com/gadgetkit/gadgetkit v0.0.0

require (
	github.com/google/gousb v1.1.3 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

// CI tests this module against the repository it sits in; a user's module
// requires a released version instead and has no replace.
replace github.com/gadgetkit/gadgetkit => ../..

tool github.com/gadgetkit/gadgetkit/cmd/vmtest
