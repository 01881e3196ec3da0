package config

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// find returns the node at a path of mapping keys (string) and list
// indices (int), or nil.
func find(n *yaml.Node, path ...any) *yaml.Node {
	for _, step := range path {
		if n == nil {
			return nil
		}
		switch s := step.(type) {
		case string:
			var next *yaml.Node
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == s {
						next = n.Content[i+1]
					}
				}
			}
			n = next
		case int:
			if n.Kind != yaml.SequenceNode || s >= len(n.Content) {
				return nil
			}
			n = n.Content[s]
		}
	}
	return n
}

// first returns the first non-nil node.
func first(nodes ...*yaml.Node) *yaml.Node {
	for _, n := range nodes {
		if n != nil {
			return n
		}
	}
	return nil
}

// crossCheck checks what relates parts of the file to each other.
func (d *decoder) crossCheck(c *Config, root *yaml.Node) {
	byName := map[string]int{}
	mounts := map[string]int{}
	for i, f := range c.Functions {
		if j, dup := byName[f.Name]; dup {
			d.failf(find(root, "functions", i, "name"), index("functions", i)+".name",
				"%q is also the name of functions[%d]", f.Name, j)
			return
		}
		byName[f.Name] = i
		if f.FunctionFS != nil {
			if j, dup := mounts[f.FunctionFS.Mount.Dir]; dup {
				fn := find(root, "functions", i)
				d.failf(first(find(fn, "mount", "dir"), fn), index("functions", i)+".mount.dir",
					"%s is also the mount of functions[%d]", f.FunctionFS.Mount.Dir, j)
				return
			}
			mounts[f.FunctionFS.Mount.Dir] = i
		}
	}
	numbers := map[int]int{}
	linked := map[string]bool{}
	for i, cfg := range c.Configurations {
		cn := find(root, "configurations", i)
		p := index("configurations", i)
		if j, dup := numbers[cfg.Number]; dup {
			d.failf(first(find(cn, "number"), cn), p+".number", "%d is also the number of configurations[%d]", cfg.Number, j)
			return
		}
		numbers[cfg.Number] = i
		here := map[string]bool{}
		for j, name := range cfg.Functions {
			fn, fp := find(cn, "functions", j), index(p+".functions", j)
			if _, ok := byName[name]; !ok {
				d.failf(fn, fp, "%q is not the name of a function (%s)", name, strings.Join(names(c.Functions), ", "))
				return
			}
			if here[name] {
				d.failf(fn, fp, "%q is listed twice", name)
				return
			}
			here[name], linked[name] = true, true
		}
	}
	for i, f := range c.Functions {
		if !linked[f.Name] {
			d.failf(find(root, "functions", i), index("functions", i), "%s %q is in no configuration", f.Type, f.Name)
			return
		}
	}
	if od := c.Gadget.OSDesc; od != nil {
		if _, ok := numbers[od.Configuration]; !ok {
			on := find(root, "gadget", "os_desc")
			d.failf(first(find(on, "configuration"), on), "gadget.os_desc.configuration",
				"%d is not the number of a configuration", od.Configuration)
		}
	}
}

func names(fs []Function) []string {
	var s []string
	for _, f := range fs {
		s = append(s, f.Name)
	}
	return s
}
