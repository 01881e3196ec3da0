package config_test

import (
	"fmt"
	"strings"

	"github.com/gadgetkit/gadgetkit/config"
)

func ExampleParse() {
	const file = `gadget: {name: demo, vid: 0x1d6b, pid: 0x0104}
udc: auto
configurations:
  - functions: [loop]
functions:
  - name: loop
    type: ffs
    speeds: [high]
    interfaces:
      - endpoints:
          - {direction: in, type: bulk}
          - {direction: out, type: bulk, max_packet: 513}
    personality: {kind: loopback}
`
	_, err := config.Parse("demo.yaml", strings.NewReader(file))
	fmt.Println(err)

	c, err := config.Parse("demo.yaml", strings.NewReader(strings.Replace(file, "513", "512", 1)))
	if err != nil {
		panic(err)
	}
	ep := c.Functions[0].FunctionFS.Interfaces[0].Endpoints[1]
	fmt.Println(ep.Address, ep.Type, ep.MaxPacket.High)
	// Output:
	// demo.yaml:12: functions[0].interfaces[0].endpoints[1].max_packet: 513 is not allowed for bulk at high speed (must be 512)
	// ep1out bulk 512
}
