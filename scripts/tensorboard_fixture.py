#!/usr/bin/env python3
"""Writes the TensorBoard event file that `crates/trainer/src/events.rs`'s tests read back:
events made by TensorBoard's own writer (`pip install tensorboard`), so the tests check the
framing and the field numbers of ganforge's events against TensorBoard's, not against
themselves.

usage: tensorboard_fixture.py OUT_FILE

Events, in order: the file version (written by the writer itself), a scalar `loss/generator`
= 0.75 at step 5, an RGB image `samples` of 2 x 3 pixels whose encoded bytes are b"PNGDATA"
at step 5, and a SessionLog START at step 7.
"""
import os, sys, tempfile
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter


def main():
    out = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        writer = EventFileWriter(tmp)
        scalar = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="loss/generator",
                                                                      simple_value=0.75)])
        writer.add_event(event_pb2.Event(wall_time=1.0, step=5, summary=scalar))
        image = summary_pb2.Summary.Image(height=2, width=3, colorspace=3,
                                          encoded_image_string=b"PNGDATA")
        pictures = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="samples",
                                                                        image=image)])
        writer.add_event(event_pb2.Event(wall_time=2.0, step=5, summary=pictures))
        start = event_pb2.SessionLog(status=event_pb2.SessionLog.START)
        writer.add_event(event_pb2.Event(wall_time=3.0, step=7, session_log=start))
        writer.close()
        (name,) = os.listdir(tmp)
        with open(os.path.join(tmp, name), "rb") as f, open(out, "wb") as g:
            g.write(f.read())


if __name__ == "__main__":
    main()
