package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/contoso/orderflow/localazure/azurite"
)

// version is set with -ldflags "-X main.version=v1.2.3" by release builds.
var version = ""

func versionString() string {
	v := version
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok {
			if bi.Main.Version != "" {
				v = bi.Main.Version
			}
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v += " " + s.Value[:12]
				}
			}
		}
	}
	return fmt.Sprintf("localazure %s (Azurite %s, %s %s/%s)", v, azurite.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
