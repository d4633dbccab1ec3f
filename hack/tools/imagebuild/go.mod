// A small image writer for the local test cluster's images (see main.go).
// Kept apart from the plugin's go.mod.
module github.com/kubectl-sandbox/kubectl-sandbox/hack/tools/imagebuild

go 1.26.0

require github.com/google/go-containerregistry v0.22.1

require (
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
)
