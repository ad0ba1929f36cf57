using Platform.Model;
using Platform.Silo.Cli;

namespace Platform.Tests.Training;

/// <summary>`platform model info` prints a preset's exact parameter count and its FLOPs per sample.</summary>
public sealed class ModelInfoCommandTests
{
    [Fact]
    public void Model_info_parses_for_every_preset_and_refuses_an_unknown_one()
    {
        foreach (string preset in SimVlmConfig.PresetNames)
            Assert.Empty(PlatformCommandLine.Build().Parse(["model", "info", "--preset", preset, "--image-size", "384", "--text-length", "32"]).Errors);
        Assert.NotEmpty(PlatformCommandLine.Build().Parse(["model", "info"]).Errors); // --preset is required
    }

    [Fact]
    public void Model_info_prints_the_counted_parameters_and_three_times_the_forward_flops_for_training()
    {
        var config = SimVlmConfig.Huge with { ImageSize = 384, MaxTextLength = 32 };
        var lines = ModelInfoCommand.Describe("huge", config).ToArray();
        Assert.Contains("image_tokens=576", lines[0]);                 // (384 / 16)^2
        Assert.Equal($"parameters={SimVlmModel.CountParameters(config)}", lines[1]);
        double forward = SimVlmModel.ForwardFlopsPerSample(config, withImage: true, prefixTextTokens: 16, suffixTokens: 16);
        Assert.StartsWith($"forward_flops_per_sample={forward.ToString("E4", System.Globalization.CultureInfo.InvariantCulture)}", lines[2]);
        Assert.Equal($"training_flops_per_sample={(3 * forward).ToString("E4", System.Globalization.CultureInfo.InvariantCulture)}", lines[3]);
    }
}
