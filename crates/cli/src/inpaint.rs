//! `ganforge inpaint`: fill the holes of pictures with a trained inpainter, or with
//! `--report` score it on held-out pictures with holes.

use std::path::PathBuf;

use ganforge_cli::CliError;
use ganforge_trainer::TrainError;
use ganforge_trainer::inpaint::{InpaintOptions, inpaint};

use crate::translate::TranslatorArgs;

/// Options of `ganforge inpaint`.
#[derive(clap::Args)]
pub struct InpaintArgs {
    #[command(flatten)]
    translator: TranslatorArgs,
    /// A picture, or a directory of pictures (at any depth), with holes to fill.
    #[arg(long, required_unless_present = "report", requires = "mask")]
    image: Option<PathBuf>,
    /// The mask picture (white where the picture is missing, the picture's size); for a
    /// directory of pictures, a directory of masks with the same names, or one mask for all.
    #[arg(long, requires = "image")]
    mask: Option<PathBuf>,
    /// Output: a PNG file for one picture, a directory for a directory; with --report, the
    /// directory of `report.json` and `pairs.png`.
    #[arg(long)]
    out: PathBuf,
    /// Score the inpainter on the held-out split of its dataset (or --held-out) instead, with
    /// holes drawn as in training: L1, PSNR and SSIM inside the hole, beside filling it with
    /// the mean colour of the known pixels (one JSON line).
    #[arg(long, conflicts_with = "image")]
    report: bool,
    /// With --report: a folder of held-out pictures (at any depth) instead of the test split
    /// of the run's dataset; holes are drawn in them as in training.
    #[arg(long, requires = "report")]
    held_out: Option<PathBuf>,
    /// With --report: pictures scored at most.
    #[arg(long, default_value_t = 1000, requires = "report")]
    count: usize,
    /// With --report: a dataset classifier (`ganforge classify train`) in whose features the
    /// filled pictures are compared with the whole ones (Fréchet distance).
    #[arg(long, requires = "report")]
    classifier: Option<PathBuf>,
}

/// Runs `ganforge inpaint`.
pub fn run(args: InpaintArgs) -> Result<(), CliError> {
    let translator = args.translator;
    if args.report {
        return translator.print_report(args.held_out, args.count, args.classifier, args.out);
    }
    let (Some(image), Some(mask)) = (args.image, args.mask) else {
        return Err(TrainError::invalid(
            "--image",
            "(none)",
            "name a picture and its --mask, or directories of both",
        )
        .into());
    };
    let options = InpaintOptions {
        out: args.out,
        seed: translator.seed,
        weights: translator.weights(),
    };
    let device = translator.device()?;
    let done = inpaint(&translator.checkpoint, &image, &mask, &options, &device)?;
    println!("checkpoint {}", done.checkpoint.display());
    if let Some(last) = done.files.last() {
        println!("filled {} pictures; {}", done.files.len(), last.display());
    }
    Ok(())
}
