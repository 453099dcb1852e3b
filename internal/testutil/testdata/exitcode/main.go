// Command exitcode exits with status 3; TestBinary builds it.
package main

import "os"

func main() { os.Exit(3) }
