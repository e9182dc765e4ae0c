package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

func init() {
	register("version", "print the build version", func(ctx context.Context, args []string) error {
		fmt.Println("exchange", buildVersion())
		return nil
	})
}

// buildVersion is the module version the binary was built from, "devel"
// for a build from a checkout.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
