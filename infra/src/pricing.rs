//! Prices every DynamoDB request the proxy forwards by AWS's on-demand rules, from the items the
//! request touched (not from constants, and not from the emulator's `ConsumedCapacity`, which
//! moto fills with fixed numbers). Used by `make bench`.
//!
//! The rules applied (DynamoDB developer guide, "Read/write capacity mode" and "Item sizes"):
//! - item size = Σ (attribute name bytes + value bytes); a number ≈ 1 byte per 2 significant
//!   digits + 1; a list or map 3 bytes + 1 per element.
//! - reads: ⌈size / 4 KB⌉ per item (GetItem, BatchGetItem: each item on its own, a missing item
//!   still costs the minimum); a Query sums the sizes of every item it evaluated (before its
//!   filter and projection) and rounds once; eventually consistent reads (and every index read)
//!   cost half.
//! - writes: ⌈max(size before, size after) / 1 KB⌉; a write refused by its condition costs the
//!   same as if it had run on the item as it stands (at least 1); a transactional item costs
//!   twice (a cancelled transaction is charged its prepare phase: once per item).
//! - every global secondary index whose entry changes costs a write of its projected entry
//!   (a delete and a put when its key changes); an item write that changes no projected attribute
//!   costs no index write.
//!
//! To know the sizes before and after a write the pricer reads the items itself (GetItem,
//! consistent) around the forwarded request; those reads are neither counted nor priced. So
//! pricing adds emulator calls: switch it on only while measuring units.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::HeaderMap;
use serde_json::{Map, Value, json};

/// Units seen since the last [`Pricing::take`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Units {
    /// Write request units on the table (transactional items counted twice).
    pub wru: f64,
    /// Write request units on global secondary indexes.
    pub index_wru: f64,
    pub rru: f64,
    /// By operation: (WRU including indexes, RRU).
    pub by_operation: BTreeMap<String, (f64, f64)>,
}

impl Units {
    pub fn total_wru(&self) -> f64 {
        self.wru + self.index_wru
    }

    /// On-demand list price in us-east-1, in dollars: $0.625 per million WRU, $0.125 per million RRU.
    pub fn dollars(&self) -> f64 {
        (self.total_wru() * 0.625 + self.rru * 0.125) / 1e6
    }

    fn add(&mut self, other: Units) {
        self.wru += other.wru;
        self.index_wru += other.index_wru;
        self.rru += other.rru;
        for (operation, (w, r)) in other.by_operation {
            let entry = self.by_operation.entry(operation).or_default();
            entry.0 += w;
            entry.1 += r;
        }
    }
}

#[derive(Debug, Clone)]
struct Index {
    hash: String,
    range: Option<String>,
    /// `None`: ALL; `Some(list)`: KEYS_ONLY (empty) or INCLUDE.
    projected: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
struct Schema {
    key: Vec<String>,
    indexes: Vec<Index>,
}

#[derive(Default)]
pub struct Pricing {
    enabled: AtomicBool,
    schemas: Mutex<HashMap<String, Schema>>,
    /// By caller (the SDK app name, account.rs).
    units: Mutex<BTreeMap<String, Units>>,
}

/// A write's item as the pricer saw it before the request.
pub struct Before {
    items: Vec<WriteItem>,
    caller: String,
}

struct WriteItem {
    table: String,
    key: Value,
    old: Option<Map<String, Value>>,
    /// The item a Put writes (Updates are read back afterwards).
    put: Option<Map<String, Value>>,
    delete: bool,
    condition_check: bool,
}

impl Pricing {
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Every caller's units since the last take.
    pub fn take(&self) -> Units {
        let mut sum = Units::default();
        for units in std::mem::take(&mut *self.units.lock().expect("units")).into_values() {
            sum.add(units);
        }
        sum
    }

    /// One function's units since the last take (`binary` as in template.yaml's `Binary`).
    pub fn take_of(&self, binary: &str) -> Units {
        self.units.lock().expect("units").remove(&format!("chat-fn-{binary}")).unwrap_or_default()
    }

    fn add(&self, caller: &str, operation: &str, table_wru: f64, index_wru: f64, rru: f64) {
        let mut all = self.units.lock().expect("units");
        let units = all.entry(caller.to_string()).or_default();
        units.wru += table_wru;
        units.index_wru += index_wru;
        units.rru += rru;
        let entry = units.by_operation.entry(operation.to_string()).or_default();
        entry.0 += table_wru + index_wru;
        entry.1 += rru;
    }

    /// Reads what a write will change, before it is forwarded.
    pub async fn before(&self, up: &Upstream<'_>, caller: &str, operation: &str, body: &Value) -> Before {
        let mut items = Vec::new();
        let mut push = |table: &str, key: Value, put: Option<Map<String, Value>>, delete: bool, check: bool| {
            items.push(WriteItem { table: table.to_string(), key, old: None, put, delete, condition_check: check });
        };
        match operation {
            "PutItem" | "UpdateItem" | "DeleteItem" => {
                let table = body["TableName"].as_str().unwrap_or_default();
                let put = body["Item"].as_object().cloned();
                let key = match &put {
                    Some(item) => self.key_of(up, table, item).await,
                    None => body["Key"].clone(),
                };
                push(table, key, put, operation == "DeleteItem", false);
            }
            "TransactWriteItems" => {
                for entry in body["TransactItems"].as_array().into_iter().flatten() {
                    for (kind, spec) in entry.as_object().into_iter().flatten() {
                        let table = spec["TableName"].as_str().unwrap_or_default();
                        let put = spec["Item"].as_object().cloned().filter(|_| kind == "Put");
                        let key = match &put {
                            Some(item) => self.key_of(up, table, item).await,
                            None => spec["Key"].clone(),
                        };
                        push(table, key, put, kind == "Delete", kind == "ConditionCheck");
                    }
                }
            }
            "BatchWriteItem" => {
                for (table, requests) in body["RequestItems"].as_object().into_iter().flatten() {
                    for request in requests.as_array().into_iter().flatten() {
                        if let Some(item) = request["PutRequest"]["Item"].as_object() {
                            let key = self.key_of(up, table, item).await;
                            push(table, key, Some(item.clone()), false, false);
                        } else {
                            push(table, request["DeleteRequest"]["Key"].clone(), None, true, false);
                        }
                    }
                }
            }
            _ => {}
        }
        for item in &mut items {
            item.old = up.get_item(&item.table, &item.key).await;
        }
        Before { items, caller: caller.to_string() }
    }

    /// Prices a forwarded request from its answer (and, for writes, what [`Pricing::before`] saw).
    pub async fn price(&self, up: &Upstream<'_>, operation: &str, body: &Value, answer: &Value, before: Before) {
        let failed = answer.get("__type").is_some();
        match operation {
            "GetItem" => {
                let table = body["TableName"].as_str().unwrap_or_default();
                let factor = read_factor(body);
                let size = match body.get("ProjectionExpression") {
                    None => answer["Item"].as_object().map(item_size).unwrap_or(0),
                    Some(_) => up.get_item(table, &body["Key"]).await.as_ref().map(item_size).unwrap_or(0),
                };
                self.add(&before.caller, operation, 0.0, 0.0, read_units(size) * factor);
            }
            "BatchGetItem" => {
                let mut rru = 0.0;
                for (table, spec) in body["RequestItems"].as_object().into_iter().flatten() {
                    let factor = read_factor(spec);
                    let unprocessed: HashSet<String> = answer["UnprocessedKeys"][table]["Keys"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(canonical)
                        .collect();
                    let asked = spec["Keys"].as_array().into_iter().flatten();
                    let processed: Vec<&Value> = asked.filter(|k| !unprocessed.contains(&canonical(k))).collect();
                    if spec.get("ProjectionExpression").is_none() {
                        // The answer holds the whole items; a missing one still costs the minimum.
                        let found: Vec<usize> = answer["Responses"][table]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_object)
                            .map(item_size)
                            .collect();
                        let missing = processed.len().saturating_sub(found.len());
                        rru += found.iter().map(|&size| read_units(size) * factor).sum::<f64>();
                        rru += missing as f64 * read_units(0) * factor;
                        continue;
                    }
                    for key in processed {
                        let size = up.get_item(table, key).await.as_ref().map(item_size).unwrap_or(0);
                        rru += read_units(size) * factor;
                    }
                }
                self.add(&before.caller, operation, 0.0, 0.0, rru);
            }
            "Query" | "Scan" => {
                if failed {
                    return;
                }
                let factor = if body.get("IndexName").is_some() { 0.5 } else { read_factor(body) };
                let bytes: usize = match up.evaluated(operation, body).await {
                    Some(items) => items.iter().filter_map(Value::as_object).map(item_size).sum(),
                    None => 0,
                };
                self.add(&before.caller, operation, 0.0, 0.0, read_units(bytes) * factor);
            }
            "PutItem" | "UpdateItem" | "DeleteItem" | "TransactWriteItems" | "BatchWriteItem" => {
                // Conditions refused: nothing changed, each item is charged as it stands. A cancelled
                // transaction: its prepare phase, once per item.
                let cancelled = answer["__type"].as_str().is_some_and(|t| t.ends_with("TransactionCanceledException"));
                let refused = answer["__type"].as_str().is_some_and(|t| t.ends_with("ConditionalCheckFailedException"));
                if failed && !cancelled && !refused {
                    return;
                }
                let transactional = operation == "TransactWriteItems";
                let (mut table_wru, mut index_wru) = (0.0, 0.0);
                for item in before.items {
                    let old = item.old;
                    let new = if failed || item.condition_check {
                        old.clone()
                    } else if item.delete {
                        None
                    } else if item.put.is_some() {
                        item.put
                    } else {
                        up.get_item(&item.table, &item.key).await
                    };
                    let size = old.as_ref().map(item_size).unwrap_or(0).max(new.as_ref().map(item_size).unwrap_or(0));
                    let units = write_units(size);
                    table_wru += match (transactional, failed) {
                        (true, false) => 2.0 * units,
                        _ => units,
                    };
                    if !failed && !item.condition_check {
                        let schema = self.schema(up, &item.table).await;
                        index_wru += index_writes(&schema, old.as_ref(), new.as_ref());
                    }
                }
                self.add(&before.caller, operation, table_wru, index_wru, 0.0);
            }
            _ => {}
        }
    }

    async fn key_of(&self, up: &Upstream<'_>, table: &str, item: &Map<String, Value>) -> Value {
        let schema = self.schema(up, table).await;
        let key: Map<String, Value> =
            schema.key.iter().filter_map(|k| item.get(k).map(|v| (k.clone(), v.clone()))).collect();
        Value::Object(key)
    }

    async fn schema(&self, up: &Upstream<'_>, table: &str) -> Schema {
        if let Some(schema) = self.schemas.lock().expect("schemas").get(table) {
            return schema.clone();
        }
        let described = up.call("DescribeTable", &json!({"TableName": table})).await.unwrap_or(Value::Null);
        let t = &described["Table"];
        let names = |schema: &Value| -> (String, Option<String>) {
            let mut hash = String::new();
            let mut range = None;
            for k in schema.as_array().into_iter().flatten() {
                let name = k["AttributeName"].as_str().unwrap_or_default().to_string();
                if k["KeyType"] == "HASH" { hash = name } else { range = Some(name) }
            }
            (hash, range)
        };
        let (hash, range) = names(&t["KeySchema"]);
        let mut key = vec![hash];
        key.extend(range);
        let indexes = t["GlobalSecondaryIndexes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|ix| {
                let (hash, range) = names(&ix["KeySchema"]);
                let projected = match ix["Projection"]["ProjectionType"].as_str() {
                    Some("KEYS_ONLY") => Some(Vec::new()),
                    Some("INCLUDE") => Some(
                        ix["Projection"]["NonKeyAttributes"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|a| a.as_str().map(str::to_string))
                            .collect(),
                    ),
                    _ => None,
                };
                Index { hash, range, projected }
            })
            .collect();
        let schema = Schema { key, indexes };
        self.schemas.lock().expect("schemas").insert(table.to_string(), schema.clone());
        schema
    }
}

/// Index writes of one item change: per index, what its entry did.
fn index_writes(schema: &Schema, old: Option<&Map<String, Value>>, new: Option<&Map<String, Value>>) -> f64 {
    let mut units = 0.0;
    for index in &schema.indexes {
        let entry = |item: Option<&Map<String, Value>>| -> Option<Map<String, Value>> {
            let item = item?;
            item.get(&index.hash)?;
            if let Some(range) = &index.range {
                item.get(range)?;
            }
            Some(
                item.iter()
                    .filter(|(name, _)| {
                        schema.key.contains(name)
                            || **name == index.hash
                            || index.range.as_ref() == Some(*name)
                            || index.projected.as_ref().is_none_or(|p| p.contains(name))
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        };
        let key = |e: &Map<String, Value>| {
            (e.get(&index.hash).cloned(), index.range.as_ref().and_then(|r| e.get(r).cloned()))
        };
        units += match (entry(old), entry(new)) {
            (None, None) => 0.0,
            (Some(o), None) => write_units(item_size(&o)),
            (None, Some(n)) => write_units(item_size(&n)),
            (Some(o), Some(n)) if key(&o) != key(&n) => write_units(item_size(&o)) + write_units(item_size(&n)),
            (Some(o), Some(n)) if o == n => 0.0,
            (Some(o), Some(n)) => write_units(item_size(&o).max(item_size(&n))),
        };
    }
    units
}

fn read_factor(spec: &Value) -> f64 {
    if spec["ConsistentRead"].as_bool() == Some(true) { 1.0 } else { 0.5 }
}

fn read_units(bytes: usize) -> f64 {
    bytes.div_ceil(4096).max(1) as f64
}

fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

fn canonical(v: &Value) -> String {
    // serde_json's maps are sorted by key (no preserve_order here), so this is canonical.
    v.to_string()
}

/// The size DynamoDB bills for an item in its JSON wire form.
pub fn item_size(item: &Map<String, Value>) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(v: &Value) -> usize {
    let Some((kind, inner)) = v.as_object().and_then(|o| o.iter().next()) else { return 0 };
    match kind.as_str() {
        "S" => inner.as_str().map(str::len).unwrap_or(0),
        "N" => number_size(inner.as_str().unwrap_or("0")),
        // Binary travels base64-encoded: 3 bytes per 4 characters.
        "B" => inner.as_str().map(|b| b.len() * 3 / 4).unwrap_or(0),
        "BOOL" | "NULL" => 1,
        "SS" => inner.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::len).sum(),
        "NS" => inner.as_array().into_iter().flatten().filter_map(Value::as_str).map(number_size).sum(),
        "BS" => inner.as_array().into_iter().flatten().filter_map(Value::as_str).map(|b| b.len() * 3 / 4).sum(),
        "L" => 3 + inner.as_array().into_iter().flatten().map(|e| 1 + value_size(e)).sum::<usize>(),
        "M" => 3 + inner.as_object().into_iter().flatten().map(|(k, e)| 1 + k.len() + value_size(e)).sum::<usize>(),
        _ => 0,
    }
}

fn number_size(n: &str) -> usize {
    let digits = n.trim_start_matches('-').replace('.', "");
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
    significant.div_ceil(2) + 1
}

/// The emulator, called by the pricer with the headers of the request it prices.
pub struct Upstream<'a> {
    pub url: &'a str,
    pub client: &'a reqwest::Client,
    pub headers: &'a HeaderMap,
}

impl Upstream<'_> {
    async fn call(&self, operation: &str, body: &Value) -> Option<Value> {
        let mut request = self.client.post(format!("{}/", self.url)).body(body.to_string());
        for (name, value) in self.headers {
            if name != "host" && name != "content-length" && name != "x-amz-target" {
                request = request.header(name, value);
            }
        }
        let answer = request.header("x-amz-target", format!("DynamoDB_20120810.{operation}")).send().await.ok()?;
        answer.json().await.ok()
    }

    async fn get_item(&self, table: &str, key: &Value) -> Option<Map<String, Value>> {
        let answer = self.call("GetItem", &json!({"TableName": table, "Key": key, "ConsistentRead": true})).await?;
        answer["Item"].as_object().cloned()
    }

    /// The items a Query or Scan evaluated: the same request without its filter, projection and
    /// `Select` (Limit counts evaluated items, so the set is the same).
    async fn evaluated(&self, operation: &str, body: &Value) -> Option<Vec<Value>> {
        let mut shadow = body.as_object()?.clone();
        for field in ["FilterExpression", "ProjectionExpression", "Select", "AttributesToGet", "QueryFilter"] {
            shadow.remove(field);
        }
        // Keep only the names and values the key condition still uses (DynamoDB refuses unused ones).
        let used = shadow.get("KeyConditionExpression").and_then(Value::as_str).unwrap_or_default().to_string();
        for field in ["ExpressionAttributeNames", "ExpressionAttributeValues"] {
            if let Some(Value::Object(map)) = shadow.get_mut(field) {
                map.retain(|placeholder, _| mentions(&used, placeholder));
                if map.is_empty() {
                    shadow.remove(field);
                }
            }
        }
        let answer = self.call(operation, &Value::Object(shadow)).await?;
        answer["Items"].as_array().cloned()
    }
}

/// Whether `expression` uses `placeholder` as a whole token (`:a` is not in `:ab`).
fn mentions(expression: &str, placeholder: &str) -> bool {
    expression.match_indices(placeholder).any(|(at, _)| {
        let next = expression[at + placeholder.len()..].chars().next();
        !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn sizes_follow_the_attribute_names_and_values() {
        assert_eq!(item_size(&item(json!({"pk": {"S": "CONV#1"}}))), 2 + 6);
        assert_eq!(item_size(&item(json!({"n": {"N": "12345"}}))), 1 + 4);
        assert_eq!(item_size(&item(json!({"ok": {"BOOL": true}}))), 3);
        assert_eq!(read_units(0), 1.0);
        assert_eq!(read_units(4097), 2.0);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
    }

    #[test]
    fn an_index_costs_a_write_only_when_its_entry_changes() {
        let schema = Schema {
            key: vec!["pk".into(), "sk".into()],
            indexes: vec![Index { hash: "g".into(), range: None, projected: Some(vec!["name".into()]) }],
        };
        let old =
            item(json!({"pk": {"S": "a"}, "sk": {"S": "b"}, "g": {"S": "x"}, "name": {"S": "n"}, "p": {"S": "1"}}));
        let mut pointer_moved = old.clone();
        pointer_moved.insert("p".into(), json!({"S": "2"}));
        assert_eq!(index_writes(&schema, Some(&old), Some(&pointer_moved)), 0.0);
        let mut renamed = old.clone();
        renamed.insert("name".into(), json!({"S": "m"}));
        assert_eq!(index_writes(&schema, Some(&old), Some(&renamed)), 1.0);
        let mut moved = old.clone();
        moved.insert("g".into(), json!({"S": "y"}));
        assert_eq!(index_writes(&schema, Some(&old), Some(&moved)), 2.0);
        assert_eq!(index_writes(&schema, None, Some(&old)), 1.0);
        let unindexed = item(json!({"pk": {"S": "a"}, "sk": {"S": "c"}}));
        assert_eq!(index_writes(&schema, None, Some(&unindexed)), 0.0);
        let all =
            Schema { key: schema.key.clone(), indexes: vec![Index { hash: "g".into(), range: None, projected: None }] };
        assert_eq!(index_writes(&all, Some(&old), Some(&pointer_moved)), 1.0);
    }

    #[test]
    fn placeholders_match_whole_tokens() {
        assert!(mentions("pk = :pk AND sk BETWEEN :lo AND :hi", ":lo"));
        assert!(!mentions("pk = :pkx", ":pk"));
        assert!(!mentions("pk = :pk", ":me"));
    }
}
