//! TensorBoard event files: a run's metrics lines as scalars and its sample grids as images,
//! written as TensorBoard reads them (`runs/<run>/tensorboard/events.out.tfevents.*`): one
//! `Event` protocol buffer per record, each record framed as TFRecord does (length, masked
//! CRC-32C of the length, data, masked CRC-32C of the data).
//!
//! A resumed run starts a new file whose first event after the version is a `SessionLog`
//! `START` at the iteration after the resumed one, so TensorBoard drops what an earlier file
//! holds from there on (the iterations the interrupted run logged after its last checkpoint).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::TrainError;
use crate::eval::is_score;
use crate::metrics_log::MetricsLine;

/// The version string of the event format (the first event of every file).
const FILE_VERSION: &str = "brain.Event:2";
/// `SessionLog.SessionStatus.START`.
const SESSION_START: u64 = 1;
/// `Summary.Image.colorspace` of RGB pictures.
const RGB: u64 = 3;

/// Appends events to one file of a run's `tensorboard/` directory.
pub struct EventWriter {
    path: PathBuf,
    file: File,
}

impl EventWriter {
    /// Starts a new event file in `dir` (created if missing); `resumed_at` is the iteration a
    /// resumed run continues from.
    pub fn create(dir: &Path, resumed_at: Option<u64>) -> Result<Self, TrainError> {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::write(dir, e))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let name = format!(
            "events.out.tfevents.{}.ganforge.{}.{}",
            now.as_secs(),
            std::process::id(),
            now.subsec_nanos()
        );
        let path = dir.join(name);
        let file = File::create(&path).map_err(|e| TrainError::write(&path, e))?;
        let mut writer = Self { path, file };
        let mut version = event(0);
        proto::bytes(&mut version, 3, FILE_VERSION.as_bytes());
        writer.append(&version)?;
        if let Some(iteration) = resumed_at {
            let mut log = Vec::new();
            proto::varint_field(&mut log, 1, SESSION_START);
            // TensorBoard drops earlier events from this step on: the resumed run's first.
            let mut start = event(iteration + 1);
            proto::bytes(&mut start, 7, &log);
            writer.append(&start)?;
        }
        Ok(writer)
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One scalar per `(tag, value)` at `step`, in one event.
    pub fn scalars(&mut self, step: u64, values: &[(String, f32)]) -> Result<(), TrainError> {
        let mut summary = Vec::new();
        for (tag, value) in values {
            let mut entry = Vec::new();
            proto::bytes(&mut entry, 1, tag.as_bytes());
            proto::float(&mut entry, 2, *value);
            proto::bytes(&mut summary, 1, &entry);
        }
        self.summary(step, &summary)
    }

    /// An RGB picture (`png`, PNG bytes of `height` x `width`) at `step`.
    pub fn image(
        &mut self,
        step: u64,
        tag: &str,
        png: &[u8],
        [height, width]: [u32; 2],
    ) -> Result<(), TrainError> {
        let mut image = Vec::new();
        proto::varint_field(&mut image, 1, height.into());
        proto::varint_field(&mut image, 2, width.into());
        proto::varint_field(&mut image, 3, RGB);
        proto::bytes(&mut image, 4, png);
        let mut entry = Vec::new();
        proto::bytes(&mut entry, 1, tag.as_bytes());
        proto::bytes(&mut entry, 4, &image);
        let mut summary = Vec::new();
        proto::bytes(&mut summary, 1, &entry);
        self.summary(step, &summary)
    }

    /// The scalars of a metrics line: the losses, D's outputs, the speed and every further
    /// statistic or score, at the line's iteration.
    pub fn line(&mut self, line: &MetricsLine) -> Result<(), TrainError> {
        let mut values = vec![
            ("loss/discriminator".to_string(), line.loss_d),
            ("loss/generator".to_string(), line.loss_g),
            ("discriminator/D(x)".to_string(), line.d_real),
            ("discriminator/D(G(z))".to_string(), line.d_fake),
            ("speed/images_per_s".to_string(), line.images_per_s as f32),
        ];
        for (name, value) in &line.extra {
            let group = if is_score(name) {
                "scores"
            } else {
                "statistics"
            };
            values.push((format!("{group}/{name}"), *value));
        }
        self.scalars(line.iteration, &values)
    }

    fn summary(&mut self, step: u64, summary: &[u8]) -> Result<(), TrainError> {
        let mut data = event(step);
        proto::bytes(&mut data, 5, summary);
        self.append(&data)
    }

    /// Appends one record and flushes it.
    fn append(&mut self, data: &[u8]) -> Result<(), TrainError> {
        let bytes = record(data);
        self.file
            .write_all(&bytes)
            .and_then(|_| self.file.flush())
            .map_err(|e| TrainError::write(&self.path, e))
    }
}

/// An `Event` with its wall time (field 1, seconds) and step (field 2).
fn event(step: u64) -> Vec<u8> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let mut data = Vec::new();
    proto::double(&mut data, 1, now);
    proto::varint_field(&mut data, 2, step);
    data
}

/// `data` framed as a TFRecord.
fn record(data: &[u8]) -> Vec<u8> {
    let length = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&length);
    out.extend_from_slice(&masked_crc(&length).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

/// TFRecord's masked CRC-32C.
fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// The protocol-buffer encodings the events need.
mod proto {
    /// `value` as a base-128 varint.
    fn varint(out: &mut Vec<u8>, mut value: u64) {
        while value >= 0x80 {
            out.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    fn key(out: &mut Vec<u8>, field: u64, wire_type: u64) {
        varint(out, (field << 3) | wire_type);
    }

    /// An integer field (wire type 0).
    pub(super) fn varint_field(out: &mut Vec<u8>, field: u64, value: u64) {
        key(out, field, 0);
        varint(out, value);
    }

    /// A `double` field (wire type 1).
    pub(super) fn double(out: &mut Vec<u8>, field: u64, value: f64) {
        key(out, field, 1);
        out.extend_from_slice(&value.to_le_bytes());
    }

    /// A `float` field (wire type 5).
    pub(super) fn float(out: &mut Vec<u8>, field: u64, value: f32) {
        key(out, field, 5);
        out.extend_from_slice(&value.to_le_bytes());
    }

    /// A string, bytes or message field (wire type 2).
    pub(super) fn bytes(out: &mut Vec<u8>, field: u64, value: &[u8]) {
        key(out, field, 2);
        varint(out, value.len() as u64);
        out.extend_from_slice(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_framing_follow_tfrecord() {
        // CRC-32C's check value (RFC 3720, "123456789"), then TFRecord's mask.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        let masked = 0xe306_9283u32.rotate_right(15).wrapping_add(0xa282_ead8);
        assert_eq!(masked_crc(b"123456789"), masked);
        let framed = record(b"abc");
        assert_eq!(framed.len(), 8 + 4 + 3 + 4);
        assert_eq!(&framed[..8], &3u64.to_le_bytes());
        assert_eq!(&framed[12..15], b"abc");
    }

    /// A protocol-buffer field's value.
    #[derive(Debug)]
    enum Value<'a> {
        Varint(u64),
        /// A `double` (the wall time), skipped.
        Fixed64,
        Bytes(&'a [u8]),
        Fixed32([u8; 4]),
    }

    fn read_varint(bytes: &[u8], at: &mut usize) -> u64 {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = bytes[*at];
            *at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                break;
            }
        }
        value
    }

    /// The fields of one message, in order.
    fn fields(message: &[u8]) -> Vec<(u64, Value<'_>)> {
        let (mut out, mut at) = (Vec::new(), 0);
        while at < message.len() {
            let key = read_varint(message, &mut at);
            let value = match key & 7 {
                0 => Value::Varint(read_varint(message, &mut at)),
                1 => {
                    at += 8;
                    Value::Fixed64
                }
                2 => {
                    let len = read_varint(message, &mut at) as usize;
                    at += len;
                    Value::Bytes(&message[at - len..at])
                }
                5 => {
                    at += 4;
                    Value::Fixed32(message[at - 4..at].try_into().unwrap())
                }
                other => panic!("wire type {other}"),
            };
            out.push((key >> 3, value));
        }
        out
    }

    /// What an event says, as the tests compare it (wall times left out).
    #[derive(Debug, PartialEq)]
    enum Read {
        Version(String),
        Scalar(u64, String, f32),
        Image(u64, String, [u64; 3], Vec<u8>),
        Start(u64),
    }

    fn bytes_of<'a>(fields: &[(u64, Value<'a>)], field: u64) -> Option<&'a [u8]> {
        fields.iter().find_map(|(f, v)| match (f == &field, v) {
            (true, Value::Bytes(b)) => Some(*b),
            _ => None,
        })
    }

    fn varint_of(fields: &[(u64, Value<'_>)], field: u64) -> u64 {
        fields
            .iter()
            .find_map(|(f, v)| match (f == &field, v) {
                (true, Value::Varint(n)) => Some(*n),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// Every event of an event file, its records' checksums checked.
    fn read_events(file: &[u8]) -> Vec<Read> {
        let (mut out, mut at) = (Vec::new(), 0);
        while at < file.len() {
            let length = &file[at..at + 8];
            let crc = u32::from_le_bytes(file[at + 8..at + 12].try_into().unwrap());
            assert_eq!(crc, masked_crc(length), "length checksum at byte {at}");
            let len = u64::from_le_bytes(length.try_into().unwrap()) as usize;
            let data = &file[at + 12..at + 12 + len];
            let crc = u32::from_le_bytes(file[at + 12 + len..at + 16 + len].try_into().unwrap());
            assert_eq!(crc, masked_crc(data), "data checksum at byte {at}");
            at += 16 + len;
            let event = fields(data);
            let step = varint_of(&event, 2);
            if let Some(version) = bytes_of(&event, 3) {
                out.push(Read::Version(String::from_utf8(version.to_vec()).unwrap()));
            }
            if let Some(log) = bytes_of(&event, 7) {
                assert_eq!(varint_of(&fields(log), 1), SESSION_START);
                out.push(Read::Start(step));
            }
            let Some(summary) = bytes_of(&event, 5) else {
                continue;
            };
            for (_, value) in fields(summary) {
                let Value::Bytes(value) = value else { continue };
                let value = fields(value);
                let tag = String::from_utf8(bytes_of(&value, 1).unwrap().to_vec()).unwrap();
                for (field, content) in &value {
                    match (field, content) {
                        (2, Value::Fixed32(v)) => {
                            out.push(Read::Scalar(step, tag.clone(), f32::from_le_bytes(*v)))
                        }
                        (4, Value::Bytes(image)) => {
                            let image = fields(image);
                            let size = [1, 2, 3].map(|f| varint_of(&image, f));
                            let png = bytes_of(&image, 4).unwrap().to_vec();
                            out.push(Read::Image(step, tag.clone(), size, png));
                        }
                        _ => {}
                    }
                }
            }
        }
        out
    }

    /// ganforge's events read back as TensorBoard's own writer's events of the same content
    /// are (the fixture from `scripts/tensorboard_fixture.py`).
    #[test]
    fn events_match_tensorboards_own() {
        let fixture = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/tensorboard/events.out.tfevents.fixture"
        ))
        .unwrap();
        let expected = read_events(&fixture);
        assert_eq!(
            expected,
            [
                Read::Version(FILE_VERSION.into()),
                Read::Scalar(5, "loss/generator".into(), 0.75),
                Read::Image(5, "samples".into(), [2, 3, 3], b"PNGDATA".to_vec()),
                Read::Start(7),
            ]
        );
        let dir = tempfile::tempdir().unwrap();
        let mut writer = EventWriter::create(dir.path(), None).unwrap();
        writer
            .scalars(5, &[("loss/generator".into(), 0.75)])
            .unwrap();
        writer.image(5, "samples", b"PNGDATA", [2, 3]).unwrap();
        let resumed = EventWriter::create(dir.path(), Some(6)).unwrap();
        let mut ours = read_events(&std::fs::read(writer.path()).unwrap());
        ours.extend(
            read_events(&std::fs::read(resumed.path()).unwrap())
                .into_iter()
                .skip(1),
        );
        assert_eq!(ours, expected);
    }

    #[test]
    fn varints_and_fields_are_protocol_buffer_encodings() {
        let mut out = Vec::new();
        proto::varint_field(&mut out, 2, 300);
        // Field 2, wire type 0; 300 = 0b1_0010_1100 -> 0xac 0x02.
        assert_eq!(out, [0x10, 0xac, 0x02]);
        let mut out = Vec::new();
        proto::bytes(&mut out, 1, b"hi");
        assert_eq!(out, [0x0a, 2, b'h', b'i']);
        let mut out = Vec::new();
        proto::float(&mut out, 2, 1.0);
        assert_eq!(out, [0x15, 0x00, 0x00, 0x80, 0x3f]);
    }
}
