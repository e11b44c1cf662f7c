//! An inverted index over catalog entities: each entity becomes a search
//! document (title, text, location and a few facts), its words point back
//! at it, and a query's words, each matched as a prefix, must all hit.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

/// How much a word counts, by where it was found.
const NAME_WEIGHT: u32 = 10;
const TITLE_WEIGHT: u32 = 5;
const TAG_WEIGHT: u32 = 3;
const TEXT_WEIGHT: u32 = 1;

/// One document found, with its score.
pub(crate) struct Hit<'a> {
    /// The document as the API shows it.
    pub(crate) document: &'a Value,
    score: u32,
}

/// The index of one generation of the catalog.
#[derive(Default)]
pub(crate) struct Index {
    documents: Vec<Value>,
    /// Each word, with the documents it appears in and its weight there.
    words: BTreeMap<String, HashMap<usize, u32>>,
    generation: Option<u64>,
}

impl Index {
    /// Indexes `entities`, read at catalog generation `generation`.
    pub(crate) fn build(entities: &[Value], generation: u64) -> Self {
        let mut index = Self {
            generation: Some(generation),
            ..Self::default()
        };
        for entity in entities {
            index.add(entity);
        }
        index
    }

    /// The catalog generation it was built from; `None` before the first.
    pub(crate) fn generation(&self) -> Option<u64> {
        self.generation
    }

    fn add(&mut self, entity: &Value) {
        let text = |pointer: &str| {
            entity
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        let (kind, namespace, name) = (
            text("/kind"),
            text("/metadata/namespace"),
            text("/metadata/name"),
        );
        let namespace = if namespace.is_empty() {
            "default"
        } else {
            namespace
        };
        let title = entity
            .pointer("/metadata/title")
            .and_then(Value::as_str)
            .unwrap_or(name);
        let position = self.documents.len();
        self.documents.push(json!({
            "title": title,
            "text": text("/metadata/description"),
            "location": format!(
                "/catalog/{}/{}/{}",
                namespace.to_lowercase(),
                kind.to_lowercase(),
                name
            ),
            "kind": kind,
            "namespace": namespace,
            "type": text("/spec/type"),
            "lifecycle": text("/spec/lifecycle"),
            "owner": text("/spec/owner"),
        }));
        let tags = entity
            .pointer("/metadata/tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str);
        let weighted = [
            (name, NAME_WEIGHT),
            (title, TITLE_WEIGHT),
            (kind, TAG_WEIGHT),
            (text("/spec/type"), TAG_WEIGHT),
            (text("/metadata/description"), TEXT_WEIGHT),
        ]
        .into_iter()
        .chain(tags.map(|tag| (tag, TAG_WEIGHT)));
        for (text, weight) in weighted {
            for word in words(text) {
                let weights = self.words.entry(word).or_default();
                let total = weights.entry(position).or_default();
                *total = (*total).max(weight);
            }
        }
    }

    /// The documents matching every word of `term` (each as the start of a
    /// word in the document), best first; everything for an empty term.
    pub(crate) fn search(&self, term: &str) -> Vec<Hit<'_>> {
        let query = words(term);
        let mut scores: HashMap<usize, u32> = if query.is_empty() {
            (0..self.documents.len())
                .map(|position| (position, 0))
                .collect()
        } else {
            HashMap::new()
        };
        for (number, word) in query.iter().enumerate() {
            let mut found: HashMap<usize, u32> = HashMap::new();
            for (_, weights) in self
                .words
                .range(word.clone()..)
                .take_while(|(indexed, _)| indexed.starts_with(word.as_str()))
            {
                for (&position, &weight) in weights {
                    let best = found.entry(position).or_default();
                    *best = (*best).max(weight);
                }
            }
            if number == 0 {
                scores = found;
            } else {
                scores.retain(|position, score| {
                    found.get(position).is_some_and(|weight| {
                        *score += weight;
                        true
                    })
                });
            }
        }
        let mut hits: Vec<Hit<'_>> = scores
            .into_iter()
            .map(|(position, score)| Hit {
                document: &self.documents[position],
                score,
            })
            .collect();
        hits.sort_by(|a, b| {
            b.score.cmp(&a.score).then_with(|| {
                a.document["location"]
                    .as_str()
                    .cmp(&b.document["location"].as_str())
            })
        });
        hits
    }
}

/// The lowercased words of `text`: runs of letters and digits.
fn words(text: &str) -> Vec<String> {
    text.split(|character: char| !character.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(kind: &str, name: &str, description: &str) -> Value {
        json!({"kind": kind, "metadata": {"name": name, "description": description},
            "spec": {"type": "service"}})
    }

    #[test]
    fn every_word_must_match_as_a_prefix_and_names_rank_first() {
        let index = Index::build(
            &[
                entity("Component", "artist-lookup", "Artist Lookup"),
                entity(
                    "Component",
                    "playback-order",
                    "Playback Order lists artists",
                ),
                entity("API", "wayback-archive", "Archive of the web"),
            ],
            1,
        );

        let titles = |term: &str| -> Vec<String> {
            index
                .search(term)
                .iter()
                .map(|hit| {
                    hit.document["title"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect()
        };

        assert_eq!(titles("artist"), ["artist-lookup", "playback-order"]);
        assert_eq!(titles("ARTIST order"), ["playback-order"]);
        assert_eq!(titles("archive web"), ["wayback-archive"]);
        assert_eq!(titles("nothing"), Vec::<String>::new());
        assert_eq!(titles("").len(), 3);
    }
}
