//! Minimal in-memory insert / find, and listDatabases over what was inserted.

use super::*;

impl Sim {
    // ---------------------------------------------------------------- CRUD

    pub(super) fn writable(&self, st: &SetState, idx: usize) -> bool {
        !self.repl_enabled()
            || (st.rt[idx].state == Some(MemberState::Primary) && st.rt[idx].writable)
    }

    pub(super) fn insert(&self, conn: &Conn, req: &Request) -> Result<Document, CmdError> {
        let coll = req
            .body
            .get_str("insert")
            .map_err(|_| fail(2, "collection name has invalid type"))?;
        let ns = format!("{}.{coll}", req.db);
        let mut st = self.lock();
        if !self.writable(&st, conn.member) {
            // service_entry_point_common.cpp: writes on a non-primary fail with NotWritablePrimary.
            return Err(fail(10107, "not primary"));
        }
        let docs = req.body.get_array("documents").cloned().unwrap_or_default();
        let ordered = req.body.get_bool("ordered").unwrap_or(true);
        let mut n = 0;
        let mut write_errors = Vec::new();
        let coll_docs = st.store.entry(ns.clone()).or_default();
        for (i, d) in docs.into_iter().enumerate() {
            let Bson::Document(mut d) = d else { continue };
            if !d.contains_key("_id") {
                let mut with_id = doc! {"_id": ObjectId::new()};
                with_id.extend(d);
                d = with_id;
            }
            let id = d.get("_id").cloned().unwrap_or(Bson::Null);
            if coll_docs.iter().any(|x| x.get("_id") == Some(&id)) {
                write_errors.push(Bson::Document(doc! {
                    "index": i as i32, "code": 11000,
                    "errmsg": format!("E11000 duplicate key error collection: {ns} index: _id_ dup key: {{ _id: {id} }}"),
                }));
                if ordered {
                    break;
                }
                continue;
            }
            coll_docs.push(d);
            n += 1;
        }
        st.last_write = DateTime::now();
        let mut out = doc! {"n": n};
        if !write_errors.is_empty() {
            out.insert("writeErrors", write_errors);
        }
        out.insert("ok", 1.0);
        Ok(out)
    }

    pub(super) fn find(&self, conn: &Conn, req: &Request) -> Result<Document, CmdError> {
        let coll = req
            .body
            .get_str("find")
            .map_err(|_| fail(2, "collection name has invalid type"))?;
        let ns = format!("{}.{coll}", req.db);
        let st = self.lock();
        if !self.writable(&st, conn.member) {
            let secondary_ok = (req.op_code == OP_QUERY
                && req.query_flags & QUERY_SECONDARY_OK != 0)
                || req
                    .body
                    .get_document("$readPreference")
                    .ok()
                    .and_then(|r| r.get_str("mode").ok())
                    .is_some_and(|m| m != "primary");
            if !secondary_ok {
                return Err(fail(13435, "not primary and secondaryOk=false"));
            }
        }
        let filter = req.body.get_document("filter").cloned().unwrap_or_default();
        let limit = repl::num(req.body.get("limit")).unwrap_or(0.0).abs() as usize;
        let mut batch = Vec::new();
        for d in st.store.get(&ns).map(|v| v.as_slice()).unwrap_or_default() {
            let mut matched = true;
            for (k, v) in &filter {
                let target = match v {
                    Bson::Document(op) if op.keys().next().is_some_and(|k| k.starts_with('$')) => {
                        match op.get("$eq") {
                            Some(x) if op.len() == 1 => x,
                            _ => {
                                return Err(fail(
                                    2,
                                    format!(
                                        "mongo-sim supports only equality filters, got {k}: {v}"
                                    ),
                                ))
                            }
                        }
                    }
                    other => other,
                };
                if d.get(k) != Some(target) {
                    matched = false;
                    break;
                }
            }
            if matched {
                batch.push(Bson::Document(d.clone()));
                if limit > 0 && batch.len() >= limit {
                    break;
                }
            }
        }
        Ok(doc! {"cursor": {"firstBatch": batch, "id": Bson::Int64(0), "ns": ns}, "ok": 1.0})
    }
}

impl Sim {
    pub(super) fn list_databases(&self) -> Document {
        let st = self.lock();
        let mut dbs: Vec<String> = st
            .store
            .keys()
            .filter_map(|ns| ns.split_once('.').map(|(d, _)| d.to_string()))
            .collect();
        dbs.dedup();
        let list: Vec<Bson> = dbs
            .iter()
            .map(|d| {
                Bson::Document(
                    doc! {"name": d.clone(), "sizeOnDisk": Bson::Int64(8192), "empty": false},
                )
            })
            .collect();
        doc! {"databases": list, "totalSize": Bson::Int64(8192 * dbs.len() as i64), "totalSizeMb": Bson::Int64(0), "ok": 1.0}
    }
}
