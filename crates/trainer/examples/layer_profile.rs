use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::nn::{BatchNormConfig, LeakyReluConfig, LinearConfig};
use burn::prelude::*;
use std::time::Instant;

fn main() {
    let d = Device::flex().autodiff();
    let b = 64;
    let lin = LinearConfig::new(100, 12544).with_bias(false).init(&d);
    let bn0 = BatchNormConfig::new(12544).init(&d);
    let up1 = ConvTranspose2dConfig::new([256, 128], [5, 5])
        .with_padding([2, 2])
        .with_bias(false)
        .init(&d);
    let bn1 = BatchNormConfig::new(128).init(&d);
    let up2 = ConvTranspose2dConfig::new([128, 64], [5, 5])
        .with_stride([2, 2])
        .with_padding([2, 2])
        .with_padding_out([1, 1])
        .with_bias(false)
        .init(&d);
    let bn2 = BatchNormConfig::new(64).init(&d);
    let up3 = ConvTranspose2dConfig::new([64, 1], [5, 5])
        .with_stride([2, 2])
        .with_padding([2, 2])
        .with_padding_out([1, 1])
        .with_bias(false)
        .init(&d);
    let act = LeakyReluConfig::new().with_negative_slope(0.2).init();
    let mut tot = std::collections::BTreeMap::<String, f64>::new();
    for it in 0..6 {
        let mut clock = Instant::now();
        let mut lap = |name: &str, tot: &mut std::collections::BTreeMap<String, f64>| {
            let _ = d.sync();
            if it >= 2 {
                *tot.entry(name.to_string()).or_default() +=
                    clock.elapsed().as_secs_f64() * 1000.0 / 4.0;
            }
            clock = Instant::now();
        };
        let z = Tensor::<2>::random([b, 100], burn::tensor::Distribution::Default, &d);
        lap("00 noise", &mut tot);
        let x = lin.forward(z);
        lap("01 linear", &mut tot);
        let x = bn0.forward(x);
        lap("02 bn1d", &mut tot);
        let x = act.forward(x);
        lap("03 lrelu", &mut tot);
        let x: Tensor<4> = x.reshape([b, 256, 7, 7]);
        lap("04 reshape", &mut tot);
        let x = up1.forward(x);
        lap("05 convT1", &mut tot);
        let x = bn1.forward(x);
        lap("06 bn2d 128", &mut tot);
        let x = act.forward(x);
        lap("07 lrelu", &mut tot);
        let x = up2.forward(x);
        lap("08 convT2", &mut tot);
        let x = bn2.forward(x);
        lap("09 bn2d 64", &mut tot);
        let x = act.forward(x);
        lap("10 lrelu", &mut tot);
        let x = up3.forward(x);
        lap("11 convT3", &mut tot);
        let x = x.tanh();
        lap("12 tanh", &mut tot);
        let loss = x.mean();
        lap("13 mean", &mut tot);
        let _g = loss.backward();
        lap("14 backward", &mut tot);
    }
    for (k, v) in tot {
        println!("{k:20} {v:8.2} ms");
    }
}
