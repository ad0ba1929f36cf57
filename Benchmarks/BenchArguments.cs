using System.CommandLine;
using Platform.Model;

namespace Platform.Benchmarks;

/// <summary>
/// The bench commands' option values, checked before anything runs. A value out of range or an unknown name throws an
/// <see cref="ArgumentException"/> that names the option, the value given and what to give instead; the `platform`
/// executable prints that as one line with exit code 2, as for the model commands' bad input.
/// </summary>
internal static class BenchArguments
{
    /// <summary>`--preset`, tiny by default.</summary>
    public static Option<string> PresetOption() =>
        new("--preset") { Description = $"Model size: {string.Join(", ", SimVlmConfig.PresetNames)}.", DefaultValueFactory = _ => "tiny" };

    /// <summary>The option's value, which must be at least <paramref name="minimum"/>.</summary>
    public static int AtLeast(this ParseResult result, Option<int> option, int minimum)
    {
        int value = result.GetValue(option);
        return value >= minimum ? value : throw new ArgumentException($"{option.Name} must be {minimum} or more, not {value}.");
    }

    /// <summary>The preset the option names.</summary>
    public static SimVlmConfig Preset(this ParseResult result, Option<string> option)
    {
        string name = result.GetValue(option)!;
        return SimVlmConfig.PresetNames.Contains(name.ToLowerInvariant())
            ? SimVlmConfig.Preset(name)
            : throw new ArgumentException($"{option.Name}: unknown preset '{name}'; give one of {string.Join(", ", SimVlmConfig.PresetNames)}.");
    }
}
