use burn::prelude::*;
use burn::tensor::activation;
use ganforge_models::layers;
use std::time::Instant;

fn t<const D: usize>(
    name: &str,
    shape: [usize; D],
    d: &Device,
    f: &dyn Fn(Tensor<D>) -> Tensor<D>,
) {
    let x0 = Tensor::<D>::random(shape, burn::tensor::Distribution::Default, d).sub_scalar(0.5);
    let mut fwd = 0.0;
    let mut bwd = 0.0;
    for i in 0..25 {
        let x = x0.clone().require_grad();
        let s = Instant::now();
        let y = f(x.clone());
        let _ = d.sync();
        let f_t = s.elapsed().as_secs_f64();
        let s = Instant::now();
        let g = (y * 1.0).sum().backward();
        let _gx = x.grad(&g);
        let b_t = s.elapsed().as_secs_f64();
        if i >= 5 {
            fwd += f_t;
            bwd += b_t;
        }
    }
    println!(
        "{name:40} fwd {:6.2} ms  bwd {:6.2} ms",
        fwd * 50.0,
        bwd * 50.0
    );
}

fn main() {
    let d = Device::flex().autodiff();
    let s2 = [64, 12544];
    t("identity [64,12544]", s2, &d, &|x| x);
    t("burn leaky_relu", s2, &d, &|x| {
        activation::leaky_relu(x, 0.2)
    });
    t("layers::leaky_relu", s2, &d, &|x| {
        layers::leaky_relu(x, 0.2)
    });
    t("burn tanh", s2, &d, &|x| x.tanh());
    t("layers::tanh", s2, &d, &|x| layers::tanh(x));
    let bn = burn::nn::BatchNormConfig::new(12544).init(&d);
    t("burn batchnorm1d", s2, &d, &|x| bn.forward(x));
    t("layers::batch_norm 1d", s2, &d, &|x| {
        layers::batch_norm(&bn, x)
    });
    for s4 in [[64, 128, 7, 7], [64, 64, 14, 14]] {
        let bn = burn::nn::BatchNormConfig::new(s4[1]).init(&d);
        t(&format!("identity {s4:?}"), s4, &d, &|x| x);
        t("burn batchnorm2d", s4, &d, &|x| bn.forward(x));
        t("layers::batch_norm 2d", s4, &d, &|x| {
            layers::batch_norm(&bn, x)
        });
        t("burn leaky_relu", s4, &d, &|x| {
            activation::leaky_relu(x, 0.2)
        });
        t("layers::leaky_relu", s4, &d, &|x| {
            layers::leaky_relu(x, 0.2)
        });
    }
}
