package gossip

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/memberlist"
)

// tagMagicByte starts node meta that holds a msgpack tag map (protocol >= 3).
const tagMagicByte = 0xFF

// MaxTagsSize is the largest encoded tag set memberlist can carry as node meta.
const MaxTagsSize = memberlist.MetaMaxSize

// ErrTagsTooLarge is returned when tags encode to more than MaxTagsSize bytes.
var ErrTagsTooLarge = errors.New("tags too large")

// EncodeTags encodes tags as node meta the way Serf does for the given
// gossip protocol version: before 3, only the "role" tag as raw bytes; from 3
// on, 0xFF followed by a msgpack map.
func EncodeTags(tags map[string]string, protocol uint8) ([]byte, error) {
	if err := validateTagKeys(tags); err != nil {
		return nil, err
	}
	var meta []byte
	if protocol < 3 {
		meta = []byte(tags["role"])
	} else {
		var buf bytes.Buffer
		buf.WriteByte(tagMagicByte)
		if tags == nil {
			tags = map[string]string{}
		}
		if err := codec.NewEncoder(&buf, wire).Encode(tags); err != nil {
			return nil, fmt.Errorf("encode tags: %w", err)
		}
		meta = buf.Bytes()
	}
	if len(meta) > MaxTagsSize {
		return nil, fmt.Errorf("%w: %d bytes encoded, limit is %d", ErrTagsTooLarge, len(meta), MaxTagsSize)
	}
	return meta, nil
}

// DecodeTags is the inverse of EncodeTags. Meta that does not start with the
// magic byte is an old-style role. Undecodable meta yields an error and
// whatever tags were read before it.
func DecodeTags(meta []byte) (map[string]string, error) {
	tags := make(map[string]string)
	if len(meta) == 0 || meta[0] != tagMagicByte {
		tags["role"] = string(meta)
		return tags, nil
	}
	if err := decodeBody(meta[1:], &tags); err != nil {
		return tags, fmt.Errorf("decode tags: %w", err)
	}
	return tags, nil
}

// tagCache decodes node meta into tag maps and hands out one shared map per
// distinct meta, so a cluster whose members carry the same tags (or none)
// holds one map rather than one per member. The maps it returns are
// read-only: the member table stores them, and every Member leaving the
// table is a Clone.
type tagCache struct {
	mu   sync.Mutex
	maps map[string]map[string]string
}

// tagCacheMax bounds the distinct metas remembered; past it the cache
// starts over.
const tagCacheMax = 256

// decode is DecodeTags through the cache. Undecodable meta is not cached.
func (c *tagCache) decode(meta []byte) (map[string]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tags, ok := c.maps[string(meta)]; ok {
		return tags, nil
	}
	tags, err := DecodeTags(meta)
	if err != nil {
		return tags, err
	}
	if c.maps == nil || len(c.maps) >= tagCacheMax {
		c.maps = make(map[string]map[string]string)
	}
	c.maps[string(meta)] = tags
	return tags, nil
}
