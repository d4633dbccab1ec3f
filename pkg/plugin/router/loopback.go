package router

// IsLoopback says whether host (a name or an IP address) is this machine's
// loopback: localhost or a loopback address. It is the check by which a
// router token may travel over plain http; the MCP server's --http uses it
// to tell an address that other machines can reach.
func IsLoopback(host string) bool { return isLoopback(host) }
