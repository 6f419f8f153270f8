use crate::DataError;

/// A finite, indexable collection of training items.
pub trait Dataset: Send + Sync {
    /// Number of items.
    fn len(&self) -> usize;

    /// Whether the dataset holds no items.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shape `[C, H, W]` of every item.
    fn item_shape(&self) -> [usize; 3];

    /// Number of classes, if items carry labels.
    fn num_classes(&self) -> Option<usize>;

    /// The classes' names in label order, if every item carries a label. By default the
    /// label numbers themselves.
    fn class_names(&self) -> Option<Vec<String>> {
        self.num_classes()
            .map(|n| (0..n).map(|label| label.to_string()).collect())
    }

    /// Writes item `index` into `out` (length `C*H*W`, row-major) and returns its label.
    fn write_item(&self, index: usize, out: &mut [f32]) -> Result<Option<u32>, DataError>;
}
