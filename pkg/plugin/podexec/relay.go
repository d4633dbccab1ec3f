package podexec

import (
	"slices"
	"strconv"
)

// The relay is the command that runs in the pod's container: it connects
// to 127.0.0.1:PORT, writes Ready to its standard output, then copies bytes
// between the connection and its standard input and output until either
// side ends, and then ends whole (no process of it is left behind: when
// its input ends, the connection is closed; when the connection ends, its
// output ends with it).
//
// sh picks bash (with cat) where the image has it, else python3: the
// images of agent-sandbox's runtimes (Debian based) have both, or bash
// alone (sandboxd's).

// readyLine is what the relay writes first, once connected.
const readyLine = "kubectl-sandbox relay ready"

// Ready is the relay's first output.
const Ready = readyLine + "\n"

// Exit codes of the relay, besides its copying's 0.
const (
	// ExitNoInterpreter: the container has neither bash and cat nor
	// python3.
	ExitNoInterpreter = 96
	// ExitRefused: nothing accepts connections on the port.
	ExitRefused = 97
)

// relayName is the relay's $0, which names it in the container's process
// list.
const relayName = "kubectl-sandbox-relay"

// dispatch runs the bash relay ($2) or the python one ($3) with the port
// ($1).
const dispatch = `if command -v bash >/dev/null 2>&1 && command -v cat >/dev/null 2>&1; then exec bash -c "$2" "$0" "$1"; fi
if command -v python3 >/dev/null 2>&1; then exec python3 -c "$3" "$1"; fi
echo "neither bash with cat nor python3 is in the container" >&2
exit 96`

// bashRelay: the reader (connection to output) and the writer (input to
// connection) are children of the shell, which waits for the reader. When
// the input ends, the writer kills the reader; when the connection ends,
// the shell kills the writer (whose trap ends its cat). Each process
// waits for its children, so none is left behind; should the shell itself
// be killed (the kubelet's runtime kills an exec's process when its client
// goes away, and then closes its input), the writer still kills the
// reader once the input closes. The shell's notices of killed jobs go to
// /dev/null at each wait; its standard error itself stays open: a relay
// that sent it to /dev/null for good (exec 4<&0 2>/dev/null) closed the
// exec's stderr, and on runc containerd then ended the exec session,
// input and all, once the relay went quiet (gVisor did not).
const bashRelay = `{ exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || { echo "nothing accepts connections on 127.0.0.1:$1" >&2; exit 97; }
exec 4<&0
printf '%s\n' '` + readyLine + `'
cat <&3 &
r=$!
{ trap 'kill $c; wait $c 2>/dev/null; exit 0' TERM; cat <&4 >&3 & c=$!; wait $c; kill $r; } </dev/null >/dev/null &
w=$!
exec 4<&- 3<&-
wait $r 2>/dev/null
kill $w
wait $w 2>/dev/null
exit 0`

// pythonRelay is one process: either side's end ends it.
const pythonRelay = `import os, socket, sys, threading
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.stderr.write("nothing accepts connections on 127.0.0.1:%s\n" % sys.argv[1])
    sys.stderr.flush()
    os._exit(97)
def out(b):
    while b:
        b = b[os.write(1, b):]
def pump(read, write):
    try:
        while True:
            b = read(65536)
            if not b:
                break
            write(b)
    except OSError:
        pass
    os._exit(0)
out(b"` + readyLine + `\n")
threading.Thread(target=pump, args=(lambda n: os.read(0, n), s.sendall), daemon=True).start()
pump(s.recv, out)`

// Command is the relay's argv for port.
func Command(port int) []string {
	return []string{"sh", "-c", dispatch, relayName, strconv.Itoa(port), bashRelay, pythonRelay}
}

// RelayPort is the port of a relay's argv (as Command makes it).
func RelayPort(argv []string) (int, bool) {
	if len(argv) != 7 || !slices.Equal(argv[:4], []string{"sh", "-c", dispatch, relayName}) {
		return 0, false
	}
	p, err := strconv.Atoi(argv[4])
	return p, err == nil && p > 0 && p < 65536
}
