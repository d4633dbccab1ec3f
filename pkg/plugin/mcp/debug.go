package mcp

import (
	"net/http"
	"net/http/pprof"
	"runtime/debug"
)

// DebugHandler serves the server's profiles (net/http/pprof's handlers at
// /debug/pprof/) and, at /debug/free, a forced garbage collection that
// returns freed memory to the system (for measurements of its RSS). It is
// for a loopback address only: profiles show the server's insides.
func DebugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("POST /debug/free", func(w http.ResponseWriter, _ *http.Request) {
		debug.FreeOSMemory()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
