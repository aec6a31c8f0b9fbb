//! A bounded line reader over any [`BufRead`]: a line longer than the cap is never held
//! whole; its remainder is skipped and the line is reported as too long.

use std::io::{self, BufRead};

/// One line from [`BoundedLines::next_line`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A line within the cap, without its `\n` (or `\r\n`).
    Text {
        /// 1-based line number.
        no: u64,
        /// The line's bytes.
        bytes: &'a [u8],
    },
    /// A line longer than the cap; its bytes were skipped.
    TooLong {
        /// 1-based line number.
        no: u64,
        /// The line's full length in bytes.
        len: u64,
    },
}

/// Reads lines of at most `max` bytes, reusing one buffer.
#[derive(Debug)]
pub struct BoundedLines<R> {
    inner: R,
    max: usize,
    buf: Vec<u8>,
    no: u64,
}

impl<R: BufRead> BoundedLines<R> {
    /// Wraps `inner`; lines longer than `max` bytes are skipped.
    pub fn new(inner: R, max: usize) -> Self {
        BoundedLines {
            inner,
            max,
            buf: Vec::new(),
            no: 0,
        }
    }

    /// The next line, or `None` at the end of the input.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let mut total: u64 = 0;
        let mut too_long = false;
        let mut saw_any = false;
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                if !saw_any {
                    return Ok(None);
                }
                break;
            }
            saw_any = true;
            let (chunk, done) = match memchr::memchr(b'\n', avail) {
                Some(p) => (&avail[..p], Some(p + 1)),
                None => (avail, None),
            };
            total += chunk.len() as u64;
            if !too_long {
                if self.buf.len() + chunk.len() > self.max {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            match done {
                Some(n) => {
                    self.inner.consume(n);
                    break;
                }
                None => {
                    let n = avail.len();
                    self.inner.consume(n);
                }
            }
        }
        self.no += 1;
        if too_long {
            return Ok(Some(Line::TooLong {
                no: self.no,
                len: total,
            }));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(Line::Text {
            no: self.no,
            bytes: &self.buf,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8], max: usize, cap: usize) -> Vec<String> {
        let mut r = BoundedLines::new(io::BufReader::with_capacity(cap, input), max);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push(match l {
                Line::Text { no, bytes } => format!("{no}:{}", String::from_utf8_lossy(bytes)),
                Line::TooLong { no, len } => format!("{no}:too long ({len})"),
            });
        }
        out
    }

    #[test]
    fn splits_and_caps() {
        let input = b"ab\r\ncdefghij\n\nxyz";
        for cap in [1, 2, 3, 64] {
            assert_eq!(
                collect(input, 4, cap),
                ["1:ab", "2:too long (8)", "3:", "4:xyz"],
                "buffer {cap}"
            );
        }
        assert!(collect(b"", 4, 8).is_empty());
        assert_eq!(collect(b"a\n", 4, 8), ["1:a"]);
    }

    #[test]
    fn huge_line_is_not_buffered() {
        struct Endless(u64);
        impl io::Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Ok(0);
                }
                let n = (buf.len() as u64).min(self.0) as usize;
                buf[..n].fill(b'x');
                self.0 -= n as u64;
                if self.0 == 0 {
                    buf[n - 1] = b'\n';
                }
                Ok(n)
            }
        }
        let mut r = BoundedLines::new(io::BufReader::new(Endless(64 << 20)), 1024);
        assert_eq!(
            r.next_line().unwrap(),
            Some(Line::TooLong {
                no: 1,
                len: (64 << 20) - 1
            })
        );
        assert!(r.buf.capacity() <= 1024 + 8192);
        assert_eq!(r.next_line().unwrap(), None);
    }
}
