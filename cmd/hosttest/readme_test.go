//go:build cgo

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"testing"

	"github.com/gadgetkit/gadgetkit/host"
)

// The README's bench --json example must parse into host.BenchResult with
// no unknown field, set every field, and be what hosttest prints for the
// same values.
func TestReadmeBenchJSON(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## `bench --json`.*?```json\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no ```json block under ## `bench --json`")
	}
	example := m[1]
	dec := json.NewDecoder(bytes.NewReader(example))
	dec.DisallowUnknownFields()
	var r host.BenchResult
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("README example: %v", err)
	}
	checkAllSet(t, "result", reflect.ValueOf(r))

	// Printed the way the command prints it, the example is unchanged.
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&r); err != nil {
		t.Fatal(err)
	}
	var a, b any
	json.Unmarshal(example, &a)
	json.Unmarshal(out.Bytes(), &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("README example and hosttest's encoding differ:\n%s\nvs\n%s", example, out.Bytes())
	}
}

// checkAllSet fails for any zero field: a field the README does not show.
func checkAllSet(t *testing.T, path string, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			t.Errorf("README example leaves %s out", path)
			return
		}
		checkAllSet(t, path, v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			checkAllSet(t, path+"."+v.Type().Field(i).Name, v.Field(i))
		}
	default:
		if v.IsZero() {
			t.Errorf("README example leaves %s zero", path)
		}
	}
}
