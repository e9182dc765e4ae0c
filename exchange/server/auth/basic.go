package auth

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// BasicUsers are the HTTP Basic users: each name is an agency id, each
// secret kept only as a bcrypt or argon2id hash. Safe for concurrent use.
type BasicUsers struct {
	path string // "" when built from a map

	mu      sync.Mutex
	hashes  map[string]string
	mtime   time.Time
	checked time.Time
	// ok caches sha256(user:password) of credentials that verified, so a
	// serializer's repeated calls cost one hash each rather than a bcrypt
	// or argon2 run; cleared whenever the users change.
	ok map[[sha256.Size]byte]string
}

// maxCached bounds the cache of verified credentials.
const maxCached = 1024

// NewBasicUsers holds users given as user → hash.
func NewBasicUsers(hashes map[string]string) (*BasicUsers, error) {
	for u, h := range hashes {
		if err := checkHash(h); err != nil {
			return nil, fmt.Errorf("basic user %s: %w", u, err)
		}
	}
	return &BasicUsers{hashes: hashes, ok: map[[sha256.Size]byte]string{}}, nil
}

// LoadBasicUsers reads a file of user:<hash> lines (# comments, blank
// lines), where hash is bcrypt ($2a$, $2b$, $2y$: `htpasswd -nB user`
// writes such a line) or argon2id in PHC form ($argon2id$v=19$m=…,t=…,p=…$salt$hash).
// The file is read again when its modification time changes.
func LoadBasicUsers(path string) (*BasicUsers, error) {
	u := &BasicUsers{path: path, ok: map[[sha256.Size]byte]string{}}
	if err := u.reload(); err != nil {
		return nil, err
	}
	return u, nil
}

// reload reads the file when its modification time changed; called with
// mu held, or before u is shared.
func (u *BasicUsers) reload() error {
	st, err := os.Stat(u.path)
	if err != nil {
		return fmt.Errorf("basic users: %w", err)
	}
	if st.ModTime().Equal(u.mtime) && u.hashes != nil {
		return nil
	}
	data, err := os.ReadFile(u.path)
	if err != nil {
		return fmt.Errorf("basic users: %w", err)
	}
	hashes, err := parseUsers(u.path, data)
	if err != nil {
		return err
	}
	u.hashes, u.mtime = hashes, st.ModTime()
	clear(u.ok)
	return nil
}

func parseUsers(path string, data []byte) (map[string]string, error) {
	hashes := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("%s line %d: not user:<hash>", path, n)
		}
		if err := checkHash(hash); err != nil {
			return nil, fmt.Errorf("%s line %d (user %s): %w", path, n, user, err)
		}
		if _, dup := hashes[user]; dup {
			return nil, fmt.Errorf("%s line %d: user %s given twice", path, n, user)
		}
		hashes[user] = hash
	}
	return hashes, sc.Err()
}

// errPlainSecret refuses anything that is not a hash: secrets are stored hashed.
var errPlainSecret = errors.New("not a bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$) hash; secrets are stored hashed only")

func checkHash(h string) error {
	switch {
	case isBcrypt(h):
		_, err := bcrypt.Cost([]byte(h))
		if err != nil {
			return fmt.Errorf("bcrypt hash: %w", err)
		}
		return nil
	case strings.HasPrefix(h, "$argon2id$"):
		_, _, _, err := parseArgon2id(h)
		return err
	}
	return errPlainSecret
}

func isBcrypt(h string) bool {
	return strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")
}

// dummyHash is compared against when the user is unknown, so an unknown
// user costs as long as a wrong password.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("dummy"), bcrypt.DefaultCost)
	return h
})

// Verify reports whether password is user's.
func (u *BasicUsers) Verify(user, password string) bool {
	key := sha256.Sum256([]byte(user + "\x00" + password))
	u.mu.Lock()
	if u.path != "" && time.Since(u.checked) > time.Second {
		u.checked = time.Now()
		// A file that became unreadable keeps the users last read.
		_ = u.reload()
	}
	hash, known := u.hashes[user]
	cached, hit := u.ok[key]
	u.mu.Unlock()
	if hit && known && subtle.ConstantTimeCompare([]byte(cached), []byte(hash)) == 1 {
		return true
	}
	if !known {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return false
	}
	if !verifyHash(hash, password) {
		return false
	}
	u.mu.Lock()
	if len(u.ok) >= maxCached {
		clear(u.ok)
	}
	u.ok[key] = hash
	u.mu.Unlock()
	return true
}

func verifyHash(hash, password string) bool {
	if isBcrypt(hash) {
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
	}
	p, salt, want, err := parseArgon2id(hash)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

type argon2Params struct {
	memory  uint32
	time    uint32
	threads uint8
}

// parseArgon2id reads $argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>
// (unpadded standard base64), the PHC string format.
func parseArgon2id(h string) (argon2Params, []byte, []byte, error) {
	var p argon2Params
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("argon2id hash: not $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, fmt.Errorf("argon2id hash: version %q, want v=%d", parts[2], argon2.Version)
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil || p.time == 0 || p.threads == 0 {
		return p, nil, nil, fmt.Errorf("argon2id hash: parameters %q are not m=…,t=…,p=…", parts[3])
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	sum, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(sum) < 16 {
		return p, nil, nil, errors.New("argon2id hash: salt or hash is not unpadded base64 (or the hash is shorter than 16 bytes)")
	}
	return p, salt, sum, nil
}

// HashArgon2id hashes password for a users file: argon2id with RFC 9106's
// second recommended parameters (t=3, m=64 MiB, p=4) and a random salt.
func HashArgon2id(password string, salt []byte) string {
	const t, m, threads = 3, 64 * 1024, 4
	sum := argon2.IDKey([]byte(password), salt, t, m, threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum))
}
