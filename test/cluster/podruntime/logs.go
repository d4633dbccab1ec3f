package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
)

// `kubectl logs` of a sandbox pod serves its runtime's output: podruntime
// writes it to the pod's log file (see runtime.logFile) in the CRI log
// format, the one kwok reads (through k8s.io/cri-client/pkg/logs, as a
// kubelet does), and creates a kwok Logs object named like the pod that
// points at that file. kwok then honours follow, tailLines, sinceSeconds,
// sinceTime, timestamps and limitBytes; `--previous` shows the same file
// (all runs of the runtime are in it).

// logsGVR is kwok's per-pod logs rule (kwok.x-k8s.io/v1alpha1 Logs, served
// when kwok runs with --enable-crds=Logs).
var logsGVR = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "logs"}

// logsObject is the kwok Logs of the pod: every container's logs are the
// pod's log file.
func (r *runtime) logsObject() *unstructured.Unstructured {
	file := r.logFile()
	return r.owned("Logs", map[string]any{"logs": []any{map[string]any{
		"logsFile": file, "previousLogsFile": file, "follow": true,
	}}})
}

// ensureLogs creates the pod's log file (kwok fails a request for a file
// that does not exist) and its Logs object, and returns the object's UID,
// for deleteLogs. Without --logs-dir there is none.
func (r *runtime) ensureLogs(ctx context.Context) (types.UID, error) {
	if r.sup.cfg.logsDir == "" || r.sup.dynamic == nil {
		return "", nil
	}
	f, err := os.OpenFile(r.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", err
	}
	_ = f.Close()
	uid, err := r.ensureOwned(ctx, logsGVR, r.logsObject())
	if err == nil {
		klog.Infof("pod %s: logs in %s through kwok Logs %s", r.key(), r.logFile(), r.pod.Name)
	}
	return uid, err
}

// deleteLogs deletes the Logs object that ensureLogs created.
func (r *runtime) deleteLogs(uid types.UID) {
	r.deleteOwned(logsGVR, "Logs", uid)
}

// criLog writes lines to a log file in the CRI log format,
// "2026-11-25T12:00:00.000000000Z stdout F text": one line per line of
// output, the time it was written, its stream, and the tag F (full) or P
// (partial: a line longer than maxCRILine, cut, or one the process left
// unfinished; the rest follows in later entries).
type criLog struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

// maxCRILine is the longest text of one entry, as containerd's default
// max_container_log_line_size.
const maxCRILine = 16 * 1024

// criTimeFormat is the fixed-width RFC 3339 time of CRI log entries.
const criTimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

func (l *criLog) entry(stream, tag string, text []byte) error {
	b := make([]byte, 0, len(criTimeFormat)+len(stream)+len(text)+5)
	b = l.now().UTC().AppendFormat(b, criTimeFormat)
	b = append(b, ' ')
	b = append(b, stream...)
	b = append(b, ' ')
	b = append(b, tag...)
	b = append(b, ' ')
	b = append(b, text...)
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.w.Write(b)
	return err
}

// stream returns a writer for one stream ("stdout" or "stderr") of the
// log. Each stream must be written from one goroutine at a time.
func (l *criLog) stream(name string) *criStream {
	return &criStream{log: l, name: name}
}

// criStream is one stream of a criLog: it writes each complete line as an
// entry at once, and keeps an unfinished one until its end comes (or Flush).
type criStream struct {
	log  *criLog
	name string
	buf  []byte
}

func (s *criStream) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	var err error
	for err == nil {
		i := bytes.IndexByte(s.buf, '\n')
		if i >= 0 && i <= maxCRILine {
			err = s.log.entry(s.name, "F", s.buf[:i])
			s.buf = s.buf[i+1:]
		} else if len(s.buf) > maxCRILine {
			err = s.log.entry(s.name, "P", s.buf[:maxCRILine])
			s.buf = s.buf[maxCRILine:]
		} else {
			break
		}
	}
	// Keep the unfinished rest at the start of a buffer of its own.
	s.buf = append([]byte(nil), s.buf...)
	return len(p), err
}

// Flush writes an unfinished line, as a full entry (the process is gone).
func (s *criStream) Flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	err := s.log.entry(s.name, "F", s.buf)
	s.buf = nil
	return err
}
