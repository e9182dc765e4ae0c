package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

func init() {
	register("version", "print the build version", func(ctx context.Context, args []string) error {
		v := "devel"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		fmt.Println("exchange", v)
		return nil
	})
}
