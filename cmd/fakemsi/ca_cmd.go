package main

import (
	"crypto/sha1"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/tenantbridge/tenantbridge/internal/localca"
)

const caAbout = `
Manage the persistent local CA: one certificate authority kept in your
config directory (default: the fakemsi directory under os.UserConfigDir, e.g.
~/.config/fakemsi), which 'serve' and 'exec' use with --local-ca
instead of a CA made per run. Install it once into the OS trust store and
programs that ignore SSL_CERT_FILE (Go on macOS and Windows, browsers) trust
the emulator, as with mkcert.

    fakemsi ca path          print the CA certificate's path (making the CA if needed)
    fakemsi ca print         print the CA certificate (PEM)
    fakemsi ca install       add it to the OS trust store
    fakemsi ca uninstall     remove it from the OS trust store

The CA's key stays in that directory (mode 0600): anyone who reads it can
issue certificates your machine trusts while the CA is installed. Uninstall
it when you stop using the emulator.

Trust stores: Linux, the system store (--store-dir, default
/usr/local/share/ca-certificates, then --update-command, default
update-ca-certificates; run as root, e.g. with sudo; for Fedora/RHEL use
--store-dir /etc/pki/ca-trust/source/anchors --update-command update-ca-trust);
macOS, the login keychain through 'security add-trusted-cert'; Windows, the
user's Root store through 'certutil -addstore -user Root'. The macOS and
Windows commands are built and documented but not tested by this project.`

// caCertName is the CA's subject and, on Linux, its file name in the store.
const (
	caCertName    = "fakemsi local CA"
	caStoreFile   = "fakemsi-local-ca.crt"
	defaultStore  = "/usr/local/share/ca-certificates"
	defaultUpdate = "update-ca-certificates"
)

func runCA(a *app, args []string) error {
	fs := newFlagSet("ca")
	dir := fs.String("dir", "", "`DIR` of the CA (default: fakemsi under the user config directory)")
	storeDir := fs.String("store-dir", defaultStore, "Linux: `DIR` of the system trust store's sources")
	update := fs.String("update-command", defaultUpdate, "Linux: `COMMAND` that rebuilds the system trust store")
	if err := parseFlags(a, fs, "[flags] path|print|install|uninstall", caAbout, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want one of path, print, install, uninstall")
	}
	action := fs.Arg(0)
	switch action {
	case "path", "print", "install", "uninstall":
	default:
		return usagef("unknown action %q: want path, print, install or uninstall", action)
	}
	d, err := caDir(*dir)
	if err != nil {
		return err
	}
	ca, created, err := localca.LoadOrCreate(d, caCertName)
	if err != nil {
		return err
	}
	certPath := filepath.Join(d, localca.CertFile)
	if created {
		fmt.Fprintf(a.stderr, "fakemsi ca: created a new CA in %s\n", d)
	}
	switch action {
	case "path":
		fmt.Fprintln(a.stdout, certPath)
		return nil
	case "print":
		_, err := a.stdout.Write(localca.PEM(ca))
		return err
	}
	cert, _, err := localca.Parts(ca)
	if err != nil {
		return err
	}
	st := trustStoreFor(runtime.GOOS, *storeDir, *update)
	if st == nil {
		return fmt.Errorf("installing into the trust store of %s is not supported; trust %s by hand", runtime.GOOS, certPath)
	}
	if action == "install" {
		err = st.install(certPath, cert)
	} else {
		err = st.uninstall(certPath, cert)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "fakemsi ca: %sed %s (%s) %s %s\n", action, caCertName, certPath, map[string]string{"install": "into", "uninstall": "from"}[action], st.name)
	return nil
}

// caDir is the CA's directory: the flag, else the default.
func caDir(flagDir string) (string, error) {
	if flagDir != "" {
		return flagDir, nil
	}
	d, err := localca.DefaultDir()
	if err != nil {
		return "", fmt.Errorf("no user config directory for the CA (%w); give --dir", err)
	}
	return d, nil
}

// trustStore is an OS trust store: commands to run, or files to write and
// a command to run (Linux).
type trustStore struct {
	name string
	// Linux: the certificate is copied to dir/caStoreFile, then update runs.
	dir    string
	update []string
	// macOS and Windows: commands, built from the certificate.
	installCmds   func(certPath string, cert *x509.Certificate) [][]string
	uninstallCmds func(certPath string, cert *x509.Certificate) [][]string
	// run runs a command; tests record instead.
	run func(argv []string) error
}

// trustStoreFor returns the store of goos, or nil.
func trustStoreFor(goos, storeDir, update string) *trustStore {
	switch goos {
	case "linux":
		return &trustStore{name: "the system trust store (" + storeDir + ")", dir: storeDir, update: strings.Fields(update), run: runCommand}
	case "darwin":
		return &trustStore{
			name: "the login keychain",
			installCmds: func(p string, _ *x509.Certificate) [][]string {
				return [][]string{{"security", "add-trusted-cert", "-r", "trustRoot", "-k", loginKeychain(), p}}
			},
			uninstallCmds: func(p string, c *x509.Certificate) [][]string {
				return [][]string{
					{"security", "remove-trusted-cert", p},
					{"security", "delete-certificate", "-Z", fmt.Sprintf("%X", sha1.Sum(c.Raw)), loginKeychain()},
				}
			},
			run: runCommand,
		}
	case "windows":
		return &trustStore{
			name: "the user's Root store",
			installCmds: func(p string, _ *x509.Certificate) [][]string {
				return [][]string{{"certutil", "-addstore", "-user", "Root", p}}
			},
			uninstallCmds: func(_ string, c *x509.Certificate) [][]string {
				return [][]string{{"certutil", "-delstore", "-user", "Root", c.SerialNumber.Text(16)}}
			},
			run: runCommand,
		}
	}
	return nil
}

func loginKeychain() string {
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "Library", "Keychains", "login.keychain-db")
}

func (s *trustStore) install(certPath string, cert *x509.Certificate) error {
	if s.installCmds != nil {
		return s.runAll(s.installCmds(certPath, cert))
	}
	pemData, err := os.ReadFile(certPath)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.dir, caStoreFile), pemData, 0o644); err != nil {
		return fmt.Errorf("writing into the trust store: %w (run as root, e.g. with sudo)", err)
	}
	return s.runAll([][]string{s.update})
}

func (s *trustStore) uninstall(certPath string, cert *x509.Certificate) error {
	if s.uninstallCmds != nil {
		return s.runAll(s.uninstallCmds(certPath, cert))
	}
	err := os.Remove(filepath.Join(s.dir, caStoreFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing from the trust store: %w (run as root, e.g. with sudo)", err)
	}
	return s.runAll([][]string{s.update})
}

func (s *trustStore) runAll(cmds [][]string) error {
	for _, argv := range cmds {
		if len(argv) == 0 {
			continue
		}
		if err := s.run(argv); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
		}
	}
	return nil
}

// runCommand runs argv with the terminal's stdin, stdout and stderr (the
// trust store commands may ask for a password).
func runCommand(argv []string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd.Run()
}
