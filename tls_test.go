package goms_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/internal/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// pki is a throwaway certificate authority with a server and a client
// certificate, written as PEM files, generated at test time.
type pki struct {
	pool                          *x509.CertPool
	caFile, serverCert, serverKey string
	clientCert, clientKey         string
	clientPair                    tls.Certificate
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	write := func(name, kind string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "goms test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p := &pki{pool: x509.NewCertPool(), caFile: write("ca.pem", "CERTIFICATE", caDER)}
	p.pool.AddCert(ca)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (certFile, keyFile string) {
		key := newKey()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalECPrivateKey(key)
		return write(name+".pem", "CERTIFICATE", der), write(name+"-key.pem", "EC PRIVATE KEY", keyDER)
	}
	p.serverCert, p.serverKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	p.clientPair, err = tls.LoadX509KeyPair(p.clientCert, p.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tlsClient returns a TLS configuration trusting the test CA, with the
// client certificate when withCert.
func (p *pki) tlsClient(withCert bool) *tls.Config {
	cfg := &tls.Config{RootCAs: p.pool, ServerName: "localhost"}
	if withCert {
		cfg.Certificates = []tls.Certificate{p.clientPair}
	}
	return cfg
}

// echoOver calls Echo at addr with creds and returns the error.
func echoOver(t *testing.T, addr string, creds credentials.TransportCredentials) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = echo.NewEchoServiceClient(conn).Echo(ctx, &echo.EchoRequest{Message: "tls"})
	return err
}

// httpsGet fetches url with the TLS configuration and returns the status,
// or an error.
func httpsGet(url string, cfg *tls.Config) (int, string, error) {
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Proto, nil
}

func TestTLS(t *testing.T) {
	p := newPKI(t)
	cfg := goms.DefaultConfig()
	cfg.TLS.CertFile, cfg.TLS.KeyFile = p.serverCert, p.serverKey
	s := serveConfig(t, cfg)

	if err := echoOver(t, s.GRPCAddr(), credentials.NewTLS(p.tlsClient(false))); err != nil {
		t.Errorf("gRPC over TLS: %v", err)
	}
	if err := echoOver(t, s.GRPCAddr(), insecure.NewCredentials()); err == nil {
		t.Error("a plaintext gRPC client got an answer from a TLS server")
	}
	if code, proto, err := httpsGet("https://"+s.HTTPAddr()+"/v1/echo/x", p.tlsClient(false)); err != nil || code != 200 || proto != "HTTP/2.0" {
		t.Errorf("HTTPS: %d %s %v, want 200 over HTTP/2", code, proto, err)
	}
}

func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	cfg := goms.DefaultConfig()
	cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.TLS.ClientCAFile = p.serverCert, p.serverKey, p.caFile
	s := serveConfig(t, cfg)

	if err := echoOver(t, s.GRPCAddr(), credentials.NewTLS(p.tlsClient(true))); err != nil {
		t.Errorf("gRPC with a client certificate: %v", err)
	}
	if err := echoOver(t, s.GRPCAddr(), credentials.NewTLS(p.tlsClient(false))); err == nil {
		t.Error("gRPC without a client certificate was answered")
	}
	if code, _, err := httpsGet("https://"+s.HTTPAddr()+"/v1/echo/x", p.tlsClient(true)); err != nil || code != 200 {
		t.Errorf("HTTPS with a client certificate: %d %v", code, err)
	}
	if _, _, err := httpsGet("https://"+s.HTTPAddr()+"/v1/echo/x", p.tlsClient(false)); err == nil {
		t.Error("HTTPS without a client certificate was answered")
	}
}

// TestHTTPModeUpstreamTLS checks that the HTTP-only gateway dials a TLS
// upstream (with mutual TLS) when configured, and fails cleanly when not.
func TestHTTPModeUpstreamTLS(t *testing.T) {
	p := newPKI(t)
	backendCfg := goms.DefaultConfig()
	backendCfg.Mode = goms.ModeGRPC
	backendCfg.TLS.CertFile, backendCfg.TLS.KeyFile, backendCfg.TLS.ClientCAFile = p.serverCert, p.serverKey, p.caFile
	backend := serveConfig(t, backendCfg)

	for _, tc := range []struct {
		name string
		set  func(*goms.Config)
		want int
	}{
		{"mutual TLS", func(c *goms.Config) {
			c.ClientTLS.CAFile, c.ClientTLS.CertFile, c.ClientTLS.KeyFile = p.caFile, p.clientCert, p.clientKey
		}, 200},
		{"plaintext to a TLS upstream", func(*goms.Config) {}, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := goms.DefaultConfig()
			cfg.Mode, cfg.Upstream = goms.ModeHTTP, "localhost:"+portOf(backend.GRPCAddr())
			tc.set(&cfg)
			front := serveConfig(t, cfg)
			if code, body := get(t, "http://"+front.HTTPAddr()+"/v1/echo/x"); code != tc.want {
				t.Errorf("GET through the gateway: %d %s, want %d", code, body, tc.want)
			}
		})
	}
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// TestOnePort checks gRPC and HTTP on one listener, cleartext (h2c) and
// over TLS, with plain grpc-go and net/http clients.
func TestOnePort(t *testing.T) {
	p := newPKI(t)
	for _, withTLS := range []bool{false, true} {
		name := "h2c"
		if withTLS {
			name = "tls"
		}
		t.Run(name, func(t *testing.T) {
			cfg := goms.DefaultConfig()
			addr := testutil.FreeAddr(t)
			cfg.GRPC.Addr, cfg.HTTP.Addr = addr, addr
			creds, scheme, clientTLS := insecure.NewCredentials(), "http", (*tls.Config)(nil)
			if withTLS {
				cfg.TLS.CertFile, cfg.TLS.KeyFile = p.serverCert, p.serverKey
				creds, scheme, clientTLS = credentials.NewTLS(p.tlsClient(false)), "https", p.tlsClient(false)
			}
			s := goms.New(cfg)
			echo.RegisterEchoService(s, &echotest.Server{})
			if err := s.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer s.Stop(context.Background())
			if s.GRPCAddr() != addr || s.HTTPAddr() != addr {
				t.Fatalf("addresses %s and %s, want both %s", s.GRPCAddr(), s.HTTPAddr(), addr)
			}
			if err := echoOver(t, addr, creds); err != nil {
				t.Errorf("gRPC on the shared port: %v", err)
			}
			code, _, err := httpsGet(scheme+"://"+addr+"/v1/echo/x", clientTLS)
			if err != nil || code != 200 {
				t.Errorf("HTTP on the shared port: %d %v", code, err)
			}
		})
	}
}

func TestTLSConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*goms.Config)
		want string
	}{
		{"cert without key", func(c *goms.Config) { c.TLS.CertFile = "x.pem" },
			"tls.cert_file and tls.key_file go together: set both or neither"},
		{"client CA without TLS", func(c *goms.Config) { c.TLS.ClientCAFile = "ca.pem" },
			"tls.client_ca_file needs tls.cert_file and tls.key_file: mutual TLS is TLS first"},
		{"missing files", func(c *goms.Config) { c.TLS.CertFile, c.TLS.KeyFile = "/nonexistent/c.pem", "/nonexistent/k.pem" },
			"tls.cert_file /nonexistent/c.pem, tls.key_file /nonexistent/k.pem: open /nonexistent/c.pem: no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := goms.DefaultConfig()
			cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
			tc.set(&cfg)
			s := goms.New(cfg)
			echo.RegisterEchoService(s, &echotest.Server{})
			if err := s.Start(context.Background()); err == nil || err.Error() != tc.want {
				s.Stop(context.Background())
				t.Errorf("Start error %v\nwant %s", err, tc.want)
			}
		})
	}
}
