//! The download path against a server on 127.0.0.1 that serves fixture files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use flate2::Compression;
use flate2::write::GzEncoder;
use ganforge_data::{
    DataError, DataSource, Dataset, IdxDataset, IdxKind, LocateOptions, RemoteFile, Split,
    download_files, locate, write_idx_fixture,
};
use sha2::{Digest, Sha256};

/// Serves `files` (path -> body) over HTTP/1.1 until the process ends; returns the base URL.
/// A path under `/cut/` announces twice its body's length and closes the connection after the
/// body: an interrupted transfer.
fn serve(files: HashMap<String, Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let files = Arc::new(files);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let files = Arc::clone(&files);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                reader.read_line(&mut request).unwrap();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap() == 0 || header == "\r\n" {
                        break;
                    }
                }
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                let response = match files.get(&path) {
                    Some(body) => {
                        let announced = match path.starts_with("/cut/") {
                            true => 2 * body.len(),
                            false => body.len(),
                        };
                        let mut r = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n"
                        )
                        .into_bytes();
                        r.extend(body);
                        r
                    }
                    None => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = stream.write_all(&response);
            });
        }
    });
    format!("http://{addr}")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A small IDX pair (plain bytes) with the standard MNIST test file names.
fn fixture() -> [(String, Vec<u8>); 2] {
    let dir = tempfile::tempdir().unwrap();
    let names = IdxKind::Mnist.file_names(Split::Test);
    let images: Vec<Vec<u8>> = (0..4).map(|i| vec![i * 60; 28 * 28]).collect();
    write_idx_fixture(dir.path(), names, &images, 28, 28, &[7, 2, 1, 0]).unwrap();
    names.map(|n| (n.to_string(), std::fs::read(dir.path().join(n)).unwrap()))
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn downloads_verifies_and_caches() {
    let [(img_name, img), (lab_name, lab)] = fixture();
    let mut served = HashMap::new();
    served.insert(format!("/good/{img_name}.gz"), gzip(&img));
    served.insert(format!("/good/{lab_name}.gz"), gzip(&lab));
    let base = serve(served);
    let remote = [
        RemoteFile::new(format!("{img_name}.gz"), sha(&img)),
        RemoteFile::new(format!("{lab_name}.gz"), sha(&lab)),
    ];
    let cache = tempfile::tempdir().unwrap();
    // The first mirror 404s, the second serves the files.
    download_files(
        &[format!("{base}/missing"), format!("{base}/good")],
        &remote,
        cache.path(),
    )
    .unwrap();
    let ds = IdxDataset::open(cache.path(), IdxKind::Mnist, Split::Test).unwrap();
    assert_eq!(ds.labels(), &[7, 2, 1, 0]);
    assert_eq!(ds.len(), 4);
    assert_eq!(
        files_in(cache.path()),
        vec![format!("{img_name}.gz"), format!("{lab_name}.gz")]
    );
}

#[test]
fn corrupt_download_is_rejected_and_not_cached() {
    let [(img_name, img), _] = fixture();
    let mut corrupt = img.clone();
    corrupt[100] ^= 0xff;
    let mut served = HashMap::new();
    served.insert(format!("/bad/{img_name}.gz"), gzip(&corrupt));
    served.insert(format!("/notgz/{img_name}.gz"), vec![0x1f, 0x8b, 1, 2, 3]);
    let base = serve(served);
    let remote = [RemoteFile::new(format!("{img_name}.gz"), sha(&img))];
    let cache = tempfile::tempdir().unwrap();
    let err = download_files(
        &[format!("{base}/bad"), format!("{base}/notgz")],
        &remote,
        cache.path(),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("checksum mismatch"), "{msg}");
    assert!(msg.contains("not valid gzip"), "{msg}");
    assert!(
        files_in(cache.path()).is_empty(),
        "{:?}",
        files_in(cache.path())
    );
}

#[test]
fn interrupted_and_corrupt_transfers_fall_through_to_the_next_mirror() {
    let [(img_name, img), _] = fixture();
    let whole = gzip(&img);
    let mut corrupt = whole.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let mut served = HashMap::new();
    served.insert(
        format!("/cut/{img_name}.gz"),
        whole[..whole.len() / 2].to_vec(),
    );
    served.insert(format!("/bad/{img_name}.gz"), corrupt);
    served.insert(format!("/good/{img_name}.gz"), whole);
    let base = serve(served);
    let remote = [RemoteFile::new(format!("{img_name}.gz"), sha(&img))];
    let cache = tempfile::tempdir().unwrap();
    let mirrors = ["cut", "bad", "good"].map(|m| format!("{base}/{m}"));
    download_files(&mirrors, &remote, cache.path()).unwrap();
    assert_eq!(files_in(cache.path()), vec![format!("{img_name}.gz")]);
    let cached = std::fs::read(cache.path().join(format!("{img_name}.gz"))).unwrap();
    assert_eq!(sha(&flate2_decode(&cached)), sha(&img));
    // Without the good mirror nothing is cached, not even a partial file.
    let cache = tempfile::tempdir().unwrap();
    let err = download_files(&mirrors[..2], &remote, cache.path()).unwrap_err();
    assert!(err.to_string().contains("cut"), "{err}");
    assert!(
        files_in(cache.path()).is_empty(),
        "{:?}",
        files_in(cache.path())
    );
}

fn flate2_decode(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn locate_prefers_local_copies_and_reports_where_it_looked() {
    let [(img_name, img), (lab_name, lab)] = fixture();
    let root = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let options = LocateOptions {
        explicit: None,
        data_root: Some(root.path().to_path_buf()),
        system_dirs: false,
        cache_root: Some(cache.path().to_path_buf()),
        mirrors: vec!["http://127.0.0.1:9/nothing".into()],
        allow_download: true,
    };
    // Nothing anywhere and the mirror is unreachable: the error lists every place.
    let err = locate(&IdxKind::Mnist, Split::Test, &options).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DataError::NotFound { .. }), "{msg}");
    assert!(
        msg.contains(&root.path().join("mnist").display().to_string()),
        "{msg}"
    );
    assert!(
        msg.contains(&cache.path().join("mnist").display().to_string()),
        "{msg}"
    );
    assert!(msg.contains("--data"), "{msg}");

    // A copy in the cache is found...
    let cached = cache.path().join("mnist");
    std::fs::create_dir_all(&cached).unwrap();
    std::fs::write(cached.join(&img_name), &img).unwrap();
    std::fs::write(cached.join(&lab_name), &lab).unwrap();
    assert_eq!(
        locate(&IdxKind::Mnist, Split::Test, &options).unwrap().1,
        DataSource::Cache
    );
    // ...but $GANFORGE_DATA/<dataset> comes first.
    let env = root.path().join("mnist");
    std::fs::create_dir_all(&env).unwrap();
    std::fs::write(env.join(&img_name), &img).unwrap();
    std::fs::write(env.join(&lab_name), &lab).unwrap();
    assert_eq!(
        locate(&IdxKind::Mnist, Split::Test, &options).unwrap(),
        (env, DataSource::Environment)
    );
    // An explicit directory that does not exist is an error, not a fall-through.
    let explicit = LocateOptions {
        explicit: Some(root.path().join("nope")),
        ..options.clone()
    };
    assert!(matches!(
        locate(&IdxKind::Mnist, Split::Test, &explicit),
        Err(DataError::MissingDirectory { .. })
    ));
    // Offline with nothing local says so.
    let offline = LocateOptions {
        data_root: None,
        cache_root: Some(tempfile::tempdir().unwrap().path().to_path_buf()),
        allow_download: false,
        ..options
    };
    let msg = locate(&IdxKind::Mnist, Split::Test, &offline)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("GANFORGE_OFFLINE"), "{msg}");
}

#[test]
fn locate_downloads_into_the_cache_from_a_mirror() {
    let [(img_name, img), (lab_name, lab)] = fixture();
    // The real MNIST checksums would reject the fixture, so this goes through download_files
    // with the fixture's own digests, the way locate calls it.
    let mut served = HashMap::new();
    served.insert(format!("/m/{img_name}.gz"), gzip(&img));
    served.insert(format!("/m/{lab_name}.gz"), gzip(&lab));
    let base = serve(served);
    let cache = tempfile::tempdir().unwrap();
    let options = LocateOptions {
        explicit: None,
        data_root: None,
        system_dirs: false,
        cache_root: Some(cache.path().to_path_buf()),
        mirrors: vec![format!("{base}/m")],
        allow_download: true,
    };
    // The fixture is not real MNIST, so the canonical checksum check must reject it.
    let err = locate(&IdxKind::Mnist, Split::Test, &options)
        .unwrap_err()
        .to_string();
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(files_in(&cache.path().join("mnist")).is_empty());
}
