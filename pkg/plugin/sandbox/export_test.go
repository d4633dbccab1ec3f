package sandbox

// The helpers that the tests of package sandbox_test (the copies through
// the python runtime) share with the package's own.
var (
	Tree      = tree
	WriteTree = writeTree
)
