//! The `wordcount` COST loop: a running count in one thread, with the engines' keyed state.

use crate::cost::coordinates;
use crate::hash::key_hash;
use crate::keyed::StrMap;
use crate::output::UpdateDigest;
use crate::text::words;
use crate::wordcount::generator::LineGenerator;

/// The running word count over `records` lines; returns the digest of its updates.
pub fn wordcount(gen: &LineGenerator, records: u64) -> UpdateDigest {
    let partitions = gen.schedule().partitions() as u64;
    let mut counts: StrMap<u64> = StrMap::default();
    let mut digest = UpdateDigest::default();
    for k in 0..records {
        let (p, i) = coordinates(k, partitions);
        let line = gen.event(p, i);
        for w in words(&line.text) {
            let hash = key_hash(w);
            let count = counts.get_or_insert_with(hash, w, || 0);
            *count += 1;
            digest.add(hash, *count);
        }
    }
    digest
}
