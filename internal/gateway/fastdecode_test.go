package gateway

import (
	"testing"

	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// decodeSeeds are bodies for [decodePlainJSON]: ones it decodes, and ones
// it must leave to protojson (which decodes or refuses them).
// In them S, I, U, L and B stand for the JSON names of plainFile's
// singular string, int32, uint64, int64 and bool fields (see seed).
var decodeSeeds = []string{
	`{}`, ` { } `, `{"S":"hi"}`, `{"S":"hi","I":12}`,
	"{\n\t\"S\" : \"h\u00e9\" ,\r\n \"I\":-3 }\n",
	`{"L":"1"}`, `{"L":9223372036854775807,"L2":-9223372036854775808,"U":18446744073709551615,"B":true}`,
	`{"B":false}`, `{"L":-0}`,
	// protojson's: decoded or refused as it decides.
	`{"S":"a\"b"}`, `{"S":"a\u0041"}`, `{"S":null}`, `{"f_TYPE_INT32_LABEL_OPTIONAL":1}`,
	`{"I":1,"f_TYPE_INT32_LABEL_OPTIONAL":2}`, `{"S":"a","S":"b"}`, `{"I":1.0}`, `{"I":1e2}`,
	`{"I":01}`, `{"I":2147483648}`, `{"I":"5"}`, `{"unknown":1}`, `{"S":"x",}`,
	`{"S":"x"} x`, `{"S":"x"`, `{"S":1}`, `{"B":"true"}`, `{"B":truex}`,
	`{"U":-1}`, `{"SS":["a"]}`, "{\"S\":\"\xff\"}", "{\"S\":\"a\x01\"}", `[]`, ``, `{"S":"x"}{}`,
	`{"L":99999999999999999999}`, `{"I":-}`, `{"I":}`,
}

// TestDecodePlainJSON: what decodePlainJSON decodes, protojson decodes
// the same; what protojson refuses, decodePlainJSON leaves to it.
func TestDecodePlainJSON(t *testing.T) {
	all := plainFile(t)
	fast := 0
	for _, body := range decodeSeeds {
		for _, newMsg := range []func() proto.Message{
			func() proto.Message { return dynamicpb.NewMessage(all) },
			func() proto.Message { return dynamicpb.NewMessage(all.ParentFile().Messages().ByName("Child")) },
			func() proto.Message { return new(structpb.Struct) },
		} {
			if checkPlainDecode(t, seed(body), newMsg) {
				fast++
			}
		}
	}
	if fast < 8 {
		t.Errorf("decodePlainJSON decoded %d of the seeds, want the simple ones", fast)
	}
}

// checkPlainDecode checks decodePlainJSON against protojson on body and
// reports whether decodePlainJSON decoded it.
func checkPlainDecode(t *testing.T, body string, newMsg func() proto.Message) bool {
	t.Helper()
	got, want := newMsg(), newMsg()
	if !decodePlainJSON([]byte(body), got) {
		return false
	}
	if err := protojson.Unmarshal([]byte(body), want); err != nil {
		t.Errorf("%T %q: decoded %v, protojson refuses it: %v", got, body, got, err)
		return true
	}
	if !proto.Equal(got, want) {
		t.Errorf("%T %q: decoded %v, protojson %v", got, body, got, want)
	}
	return true
}

// seed spells the fields of a decodeSeeds body with plainFile's JSON
// names.
func seed(body string) string {
	return strings.NewReplacer(
		`"S"`, `"fTYPESTRINGLABELOPTIONAL"`, `"SS"`, `"fTYPESTRINGLABELREPEATED"`,
		`"I"`, `"fTYPEINT32LABELOPTIONAL"`, `"U"`, `"fTYPEUINT64LABELOPTIONAL"`,
		`"L"`, `"fTYPEINT64LABELOPTIONAL"`, `"L2"`, `"fTYPESINT64LABELOPTIONAL"`,
		`"B"`, `"fTYPEBOOLLABELOPTIONAL"`).Replace(body)
}

func FuzzDecodePlainJSON(f *testing.F) {
	all := plainFile(f)
	for _, s := range decodeSeeds {
		f.Add(seed(s))
	}
	f.Fuzz(func(t *testing.T, body string) {
		checkPlainDecode(t, body, func() proto.Message { return dynamicpb.NewMessage(all) })
	})
}
