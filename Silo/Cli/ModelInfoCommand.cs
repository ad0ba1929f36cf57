using System.CommandLine;
using System.Globalization;
using Platform.Model;

namespace Platform.Silo.Cli;

/// <summary>`platform model info`: a preset's shape, parameter count and FLOPs per sample, without building the model.</summary>
public static class ModelInfoCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = $"Model size: {string.Join(", ", SimVlmConfig.PresetNames)}.", Required = true };
        var imageSize = new Option<int?>("--image-size") { Description = "Image side in pixels (a multiple of the patch size). Default: the preset's." };
        var textLength = new Option<int?>("--text-length") { Description = "Text tokens per sample (prefix and suffix). Default: the preset's." };
        var info = new Command("info", "Print a preset's shape, its parameters and its FLOPs per image-text sample (the text split at its middle).");
        info.Options.Add(preset);
        info.Options.Add(imageSize);
        info.Options.Add(textLength);
        info.SetAction((ParseResult result, CancellationToken _) =>
        {
            SimVlmConfig config;
            try
            {
                var chosen = SimVlmConfig.Preset(result.GetValue(preset)!);
                config = (chosen with
                {
                    ImageSize = result.GetValue(imageSize) ?? chosen.ImageSize,
                    MaxTextLength = result.GetValue(textLength) ?? chosen.MaxTextLength,
                }).Validate();
            }
            catch (ArgumentException e)
            {
                return Task.FromResult(CommandInputErrors.Report("model info", e));
            }
            foreach (string line in Describe(result.GetValue(preset)!.ToLowerInvariant(), config)) Console.WriteLine(line);
            return Task.FromResult(0);
        });
        var model = new Command("model", "Facts about model shapes.");
        model.Subcommands.Add(info);
        return model;
    }

    /// <summary>
    /// The lines `model info` prints. FLOPs are <see cref="SimVlmModel.ForwardFlopsPerSample"/>'s count for an image and a
    /// text of the full length split at its middle (the mean of pretraining's uniform split); training is three times forward.
    /// </summary>
    public static IEnumerable<string> Describe(string preset, SimVlmConfig config)
    {
        int prefixText = config.MaxTextLength / 2, suffix = config.MaxTextLength - prefixText;
        double forward = SimVlmModel.ForwardFlopsPerSample(config, withImage: true, prefixText, suffix);
        yield return string.Create(CultureInfo.InvariantCulture,
            $"preset={preset} image_size={config.ImageSize} patch_size={config.PatchSize} image_tokens={config.ImageTokens} text_length={config.MaxTextLength} " +
            $"width={config.Width} encoder_layers={config.EncoderLayers} decoder_layers={config.DecoderLayers} heads={config.Heads} mlp_width={config.MlpWidth} vocabulary={config.VocabSize}");
        yield return string.Create(CultureInfo.InvariantCulture, $"parameters={SimVlmModel.CountParameters(config)}");
        yield return string.Create(CultureInfo.InvariantCulture, $"forward_flops_per_sample={forward:E4} (prefix text {prefixText} tokens, suffix {suffix} tokens)");
        yield return string.Create(CultureInfo.InvariantCulture, $"training_flops_per_sample={3 * forward:E4}");
    }
}
