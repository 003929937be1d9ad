//! ZooKeeper derives a session's 16-byte password from its id with
//! `java.util.Random(sessionId ^ 0xB3415C00).nextBytes`. Doing the same keeps
//! passwords identical to ZooKeeper's and needs no stored secret.

const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const ADDEND: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;
const SUPER_SECRET: i64 = 0xB341_5C00;

/// `java.util.Random`'s 48-bit linear congruential generator.
struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    fn new(seed: i64) -> Self {
        JavaRandom {
            seed: (seed as u64 ^ MULTIPLIER) & MASK,
        }
    }

    fn next_int(&mut self) -> i32 {
        self.seed = (self.seed.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND)) & MASK;
        (self.seed >> 16) as i32
    }

    fn next_bytes(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(4) {
            let mut rnd = self.next_int();
            for byte in chunk {
                *byte = rnd as u8;
                rnd >>= 8;
            }
        }
    }
}

/// The password ZooKeeper gives session `session_id`.
pub fn session_password(session_id: i64) -> [u8; 16] {
    let mut out = [0u8; 16];
    JavaRandom::new(session_id ^ SUPER_SECRET).next_bytes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_random_matches_the_jdk() {
        // new java.util.Random(42).nextInt() == -1170105035 (JDK reference value).
        assert_eq!(JavaRandom::new(42).next_int(), -1_170_105_035);
        let mut r = JavaRandom::new(42);
        assert_eq!(r.next_int(), -1_170_105_035);
        assert_eq!(r.next_int(), 234_785_527);
    }

    #[test]
    fn password_matches_a_real_zookeeper_session() {
        // From the golden fixture multi.frames: ZooKeeper 3.8.0 gave session
        // 0x0100000a4fb50000 this password.
        let expected: [u8; 16] = [
            0x81, 0x1e, 0xab, 0x23, 0x7a, 0x14, 0xc5, 0xb6, 0xc7, 0x1f, 0xc8, 0x36, 0x53, 0x9a,
            0xd8, 0x92,
        ];
        assert_eq!(session_password(0x0100_000a_4fb5_0000), expected);
    }
}
