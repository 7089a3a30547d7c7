// Command empty does nothing: the baseline of the binary size comparison.
package main

func main() {}
