//! How `print` and `save_as_text_files` render a record: as Scala's `toString` would, so the
//! output reads like Spark's (`(spark,3)`, not `("spark", 3)`).

use std::fmt::Write;

/// A record's text as Spark writes it.
pub trait SparkText {
    /// Appends the record's text to `out`.
    fn write_text(&self, out: &mut String);

    /// The record's text.
    fn text(&self) -> String {
        let mut s = String::new();
        self.write_text(&mut s);
        s
    }
}

macro_rules! display_text {
    ($($t:ty),*) => {$(
        impl SparkText for $t {
            fn write_text(&self, out: &mut String) {
                let _ = write!(out, "{self}");
            }
        }
    )*};
}

display_text!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64, bool, char, str, String);
display_text!(compact_str::CompactString);

impl<T: SparkText + ?Sized> SparkText for &T {
    fn write_text(&self, out: &mut String) {
        (**self).write_text(out)
    }
}

impl SparkText for () {
    fn write_text(&self, out: &mut String) {
        out.push_str("()")
    }
}

impl<T: SparkText> SparkText for Option<T> {
    fn write_text(&self, out: &mut String) {
        match self {
            Some(x) => {
                out.push_str("Some(");
                x.write_text(out);
                out.push(')');
            }
            None => out.push_str("None"),
        }
    }
}

impl<T: SparkText> SparkText for Vec<T> {
    /// Grouped values print as Spark's `CompactBuffer(a, b)`.
    fn write_text(&self, out: &mut String) {
        out.push_str("CompactBuffer(");
        for (i, x) in self.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            x.write_text(out);
        }
        out.push(')');
    }
}

macro_rules! tuple_text {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: SparkText),+> SparkText for ($($name,)+) {
            fn write_text(&self, out: &mut String) {
                out.push('(');
                $(
                    if $idx > 0 {
                        out.push(',');
                    }
                    self.$idx.write_text(out);
                )+
                out.push(')');
            }
        }
    };
}

tuple_text!(A 0, B 1);
tuple_text!(A 0, B 1, C 2);
tuple_text!(A 0, B 1, C 2, D 3);

#[cfg(test)]
mod tests {
    use super::SparkText;

    #[test]
    fn records_render_as_scala_would() {
        assert_eq!(("spark".to_owned(), 3u64).text(), "(spark,3)");
        assert_eq!((1u32, (vec![2u8, 3], Some("x"))).text(), "(1,(CompactBuffer(2, 3),Some(x)))");
        assert_eq!(Option::<u8>::None.text(), "None");
    }
}
