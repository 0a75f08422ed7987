package session_test

import (
	"crypto/sha256"
	"encoding/base64"
)

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
