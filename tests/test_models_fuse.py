import torch
from torch import nn

from kdtrack_lite.models.centertrack import DetectorConfig, build_centertrack
from kdtrack_lite.models.fuse import deploy, fuse_conv_bn
from kdtrack_lite.models.siamfc import SiamFCConfig, build_siamfc


def _randomise_bn(model):
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model.eval()


def test_folding_bn_keeps_the_outputs_and_removes_every_bn():
    torch.manual_seed(0)
    for role in ("teacher", "student"):
        model = _randomise_bn(build_centertrack(DetectorConfig.preset(role)))
        fused = fuse_conv_bn(model)
        assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
        assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is untouched
        x, prior = torch.rand(1, 3, 64, 96), torch.rand(1, 1, 64, 96)
        with torch.no_grad():
            a, b = model(x, x, prior), fused(x, x, prior)
        for key in a:
            torch.testing.assert_close(b[key], a[key], atol=1e-4, rtol=1e-4)
    siam = _randomise_bn(build_siamfc(SiamFCConfig.preset("student")))
    z, x = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(fuse_conv_bn(siam)(z, x), siam(z, x), atol=1e-4, rtol=1e-4)


def test_deploy_folds_bn_stores_channels_last_and_keeps_the_outputs():
    model = _randomise_bn(build_centertrack(DetectorConfig.preset("student")))
    deployed = deploy(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in deployed.modules())
    convs = [m for m in deployed.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)
    assert all(m.weight.is_contiguous() for m in model.modules() if isinstance(m, nn.Conv2d))  # original untouched
    x, prior = torch.rand(1, 3, 64, 96), torch.rand(1, 1, 64, 96)
    with torch.no_grad():
        a, b = model(x, x, prior), deploy(model, channels_last=False)(x, x, prior)
        c = deployed(x, x, prior)
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(c[key], a[key], atol=1e-4, rtol=1e-4)
