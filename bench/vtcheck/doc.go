// Package vtcheck checks that GoMs's opt-in fast codec
// (github.com/goms-io/goms/vtcodec) writes and reads the bytes
// protobuf-go does: its tests marshal every message of the generator's
// golden cases, of the example shop and of the tests' fixtures, generated
// once more with protoc-gen-go-vtproto into bench/internal/gen/vtcheck
// (bench/vtcheck.buf.gen.yaml), with both and compare, and FuzzVTCodec
// feeds arbitrary bytes to both. It lives in the bench module, which alone
// requires vtprotobuf, and has no code besides its tests.
package vtcheck
