package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	processv1 "sigs.k8s.io/agent-sandbox/packages/sandboxd/spec/process/v1"
)

// grpcCurl returns the arguments of a curl that makes sandboxd's gRPC
// Execute call of argv (HTTP/2 with prior knowledge, one length-prefixed
// message) to 127.0.0.1:port, checking once that sandboxd answers it with
// grpc-status 0.
func (b *bench) grpcCurl(port int, argv ...string) []string {
	msg, err := proto.Marshal(&processv1.ExecuteRequest{Config: &processv1.ProcessConfig{Command: argv}})
	if err != nil {
		fail("%v", err)
	}
	frame := make([]byte, 5, 5+len(msg)) // not compressed, then the length
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	file := filepath.Join(b.dir, "execute.bin")
	if err := os.WriteFile(file, append(frame, msg...), 0o644); err != nil {
		fail("%v", err)
	}
	args := []string{"--http2-prior-knowledge", "-sS", "-f", "-o", "/dev/null",
		"-H", "content-type: application/grpc", "-H", "te: trailers", "--data-binary", "@" + file,
		fmt.Sprintf("http://127.0.0.1:%d%s", port, processv1.ProcessService_Execute_FullMethodName)}
	check := exec.Command("curl", append([]string{"-D", "-"}, args...)...)
	if out, err := check.CombinedOutput(); err != nil || !strings.Contains(string(out), "grpc-status: 0") {
		fail("curl of sandboxd's Execute did not succeed: %v\n%s", err, out)
	}
	return args
}

// portForward starts `kubectl port-forward pod/POD :PORT` and returns the
// local port and a stop function.
func (b *bench) portForward(pod string, port int) (int, func()) {
	cmd := exec.Command("kubectl", "port-forward", "pod/"+pod, fmt.Sprintf(":%d", port))
	cmd.Env = append(os.Environ(), b.env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		fail("%v", err)
	}
	if err := cmd.Start(); err != nil {
		fail("kubectl port-forward: %v", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	m := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) `).FindStringSubmatch(line)
	if err != nil || m == nil {
		stop()
		fail("kubectl port-forward pod/%s: %q %v", pod, line, err)
	}
	local, _ := strconv.Atoi(m[1]) // digits, by the pattern
	go func() { _, _ = r.WriteTo(io.Discard) }()
	return local, stop
}
