package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
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

// grpcKept times n ProcessService.Start calls of argv, each read to its
// exit event, on one gRPC connection to 127.0.0.1:port that 3 untimed
// calls opened first: the request sandbox_exec makes, on a connection kept
// open. (curl cannot be the baseline here: repeated with --next on one
// HTTP/2 connection, its gRPC requests end in exit 16.)
func (b *bench) grpcKept(port, n int, argv ...string) []sample {
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fail("gRPC connection to 127.0.0.1:%d: %v", port, err)
	}
	defer func() { _ = conn.Close() }()
	client := processv1.NewProcessServiceClient(conn)
	call := func() time.Duration {
		start := time.Now()
		stream, err := client.Start(context.Background(), &processv1.StartRequest{Config: &processv1.ProcessConfig{Command: argv}})
		if err != nil {
			fail("sandboxd Start: %v", err)
		}
		for {
			ev, err := stream.Recv()
			if err != nil {
				fail("sandboxd Start: the stream ended before the exit event: %v", err)
			}
			if exit := ev.GetExit(); exit != nil {
				if exit.GetExitCode() != 0 {
					fail("sandboxd Start of %v: exit code %d", argv, exit.GetExitCode())
				}
				return time.Since(start)
			}
		}
	}
	for range 3 {
		call()
	}
	s := make([]sample, n)
	for i := range s {
		s[i] = sample{dur: call()}
	}
	return s
}
