package jobs

import "strconv"

// The shell scripts that keep jobs, run by the sandbox's sh (POSIX sh;
// dash, bash and busybox all run them) with every value as a positional
// argument, never inside the script's text. Each runs in the runtime's
// root, where Dir is.

// startScript starts a job: $1 is monitorScript, $2 the id, $3 the working
// directory ("" for the root), $4 the command as JSON (for listings), then
// the command's argv. It makes the job's directory (failing with
// exitExists if the id is taken), starts the monitor in a session of its
// own with no standard stream of the caller's (so that the call returns at
// once and nothing the runtime does to its own process group reaches it),
// waits (at most about 10 s) for the job's pid, and prints it.
var startScript = `set -e
monitor=$1 id=$2 wd=$3 cmd=$4
shift 4
command -v setsid >/dev/null 2>&1 || { echo "the sandbox has no setsid (util-linux) to start a job in a session of its own" >&2; exit ` + strconv.Itoa(exitNoSetsid) + `; }
mkdir -p ` + Dir + `
d=` + Dir + `/$id
mkdir "$d" 2>/dev/null || { echo "job $id exists" >&2; exit ` + strconv.Itoa(exitExists) + `; }
printf '%s' "$cmd" > "$d/cmd"
date +%s > "$d/started"
: > "$d/out"
setsid sh -c "$monitor" kubectl-sandbox-job "$d" "$wd" "$@" </dev/null >/dev/null 2>&1 &
echo $! > "$d/monitor"
i=0
while [ ! -s "$d/pid" ] && [ ! -e "$d/exit" ] && [ $i -lt 1000 ]; do
  sleep 0.01 2>/dev/null || sleep 1
  i=$((i + 1))
done
cat "$d/pid" 2>/dev/null || true
`

// monitorScript is the job's monitor, the leader of a session of its own:
// $1 is the job's directory, $2 its working directory, then its argv. It
// starts the command as the leader of yet another session (so that a kill
// of the job's process group spares the monitor), its input from
// /dev/null, its output and errors appended to out; writes its pid; waits
// for it and writes "CODE EPOCH" to exit (128+N when signal N ended it),
// each file whole (written aside, then renamed).
const monitorScript = `d=$1
shift
setsid sh -c '[ -z "$1" ] || cd -- "$1" || exit 127; shift; exec "$@"' kubectl-sandbox-job "$@" </dev/null >>"$d/out" 2>&1 &
echo $! > "$d/pid.tmp" && mv "$d/pid.tmp" "$d/pid"
wait $!
code=$?
echo "$code $(date +%s)" > "$d/exit.tmp" && mv "$d/exit.tmp" "$d/exit"
`

// stateFunc is a shell function, state DIR, that prints a job's record:
// "job", id, state, exit code, pid, start, end, output size and the
// command's JSON, tab-separated on one line. A job whose exit file exists
// has exited; else one whose command or monitor is alive (not a zombie) is
// running (the monitor lives on for a moment after its command, to write
// the exit file); else it is lost (its monitor was killed).
const stateFunc = `alive() {
  [ -n "$1" ] || return 1
  if [ -r "/proc/$1/status" ]; then
    ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
  else
    kill -0 "$1" 2>/dev/null
  fi
}
state() {
  id=${1##*/}
  pid=$(cat "$1/pid" 2>/dev/null || true)
  mon=$(cat "$1/monitor" 2>/dev/null || true)
  st=lost code= ended=
  if [ ! -e "$1/exit" ] && { alive "$pid" || alive "$mon"; }; then
    st=running
  fi
  if [ -e "$1/exit" ]; then
    st=exited
    read -r code ended < "$1/exit" || true
  fi
  size=$(wc -c < "$1/out" 2>/dev/null || echo 0)
  printf 'job\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$st" "$code" "$pid" "$(cat "$1/started" 2>/dev/null || true)" "$ended" "$size" "$(cat "$1/cmd" 2>/dev/null || true)"
}
`

// listScript prints the record of every job, or of job $1 (exitNoJob if
// there is none).
var listScript = stateFunc + `if [ -n "$1" ]; then
  [ -d "` + Dir + `/$1" ] || exit ` + strconv.Itoa(exitNoJob) + `
  state "` + Dir + `/$1"
  exit 0
fi
for d in ` + Dir + `/*; do
  [ -d "$d" ] && state "$d"
done
exit 0
`

// readScript prints job $1's record, then up to $3 bytes of its output
// from byte $2, in base64. The record comes first: when it says the job
// has ended, the output read after it is all there is.
var readScript = stateFunc + `d=` + Dir + `/$1
[ -d "$d" ] || exit ` + strconv.Itoa(exitNoJob) + `
state "$d"
command -v base64 >/dev/null 2>&1 || { echo "the sandbox has no base64 (coreutils) to read a job's output" >&2; exit ` + strconv.Itoa(exitNoBase64) + `; }
tail -c +"$(($2 + 1))" "$d/out" | head -c "$3" | base64
`

// killScript sends signal $2 to the process group of job $1, unless it
// has ended, and then says "sent"; then prints its record.
var killScript = stateFunc + `d=` + Dir + `/$1
[ -d "$d" ] || exit ` + strconv.Itoa(exitNoJob) + `
pid=$(cat "$d/pid" 2>/dev/null || true)
if [ ! -e "$d/exit" ] && [ -n "$pid" ]; then
  if kill -s "$2" -- "-$pid" 2>/dev/null || kill -s "$2" "-$pid" 2>/dev/null || kill -s "$2" "$pid" 2>/dev/null; then
    echo sent
  fi
fi
state "$d"
`

// removeScript removes job $1's directory, unless it is running (its
// record is printed first, and the script ends with exitRunning then).
var removeScript = stateFunc + `d=` + Dir + `/$1
[ -d "$d" ] || exit ` + strconv.Itoa(exitNoJob) + `
state "$d"
[ "$st" != running ] || exit ` + strconv.Itoa(exitRunning) + `
rm -rf -- "$d"
`

// Exit codes of the scripts, besides 0.
const (
	exitNoJob    = 3
	exitRunning  = 4
	exitExists   = 17
	exitNoSetsid = 120
	exitNoBase64 = 121
)
