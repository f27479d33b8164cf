// Counter-based dropout mask: element i of call (seed, counter) is kept iff
//     (lowbias32(i ^ key) >> 8) >= threshold,   key = dropout_key(seed, counter) (host side),
// threshold = round(rate 2^24). No state, no RNG buffer: any device or thread order draws the very
// same bits as nastoolkit/kernels/_numpy.dropout.
#pragma once
#include "common.cuh"

// lowbias32 integer finaliser (Chris Wellons' hash-prospector): a bijection on 32-bit words.
NK_HD unsigned int nk_hash32(unsigned int h) {
    h ^= h >> 16;
    h *= 0x7FEB352Du;
    h ^= h >> 15;
    h *= 0x846CA68Bu;
    h ^= h >> 16;
    return h;
}

// The keep decision of flat element i (indices wrap at 2^32, like NumPy's uint32 arange).
NK_HD bool dropout_keep_element(unsigned int i, unsigned int key, unsigned int threshold) {
    return (nk_hash32(i ^ key) >> 8) >= threshold;
}

// The stream key of dropout call number `counter` under `seed`, on the device:
// kernels._numpy.dropout_key (host side) as a device function, for kernels that step the counter
// themselves (fused_mlp.cu: the layer's counter plus the step index).
NK_HD unsigned int dropout_stream_key(unsigned int seed, unsigned long long counter) {
    return nk_hash32(seed ^ nk_hash32((unsigned int)(counter + 0x9E3779B9ull)));
}
