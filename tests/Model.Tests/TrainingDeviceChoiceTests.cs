using Platform.Model.Training;

namespace Platform.Model.Tests;

public sealed class TrainingDeviceChoiceTests
{
    [Theory]
    [InlineData("auto")]
    [InlineData("cpu")]
    [InlineData("cuda")]
    [InlineData("cuda:0")]
    [InlineData("cuda:12")]
    public void A_device_choice_of_auto_cpu_cuda_or_a_gpu_ordinal_is_accepted(string device) =>
        Assert.Equal(device, new TrainingOptions { Device = device }.Validate().Device);

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:+1")]
    [InlineData("cuda:1x")]
    [InlineData("cuda: 1")]
    [InlineData("cpu:0")]
    public void Any_other_device_choice_is_refused_naming_the_accepted_forms(string device)
    {
        var error = Assert.Throws<ArgumentException>(() => new TrainingOptions { Device = device }.Validate());
        Assert.Contains("cuda:N", error.Message);
    }

    [Fact]
    public void A_gpu_ordinal_on_a_machine_without_cuda_is_refused_before_any_training()
    {
        // The CPU TorchSharp bundle has no CUDA device: asking for one must fail clearly rather than train on the CPU.
        var config = TestModels.Micro;
        var random = new DeterministicRandom(7);
        var tokenizer = TextTokenizer.Build(TextTokenizer.Gpt2, ["a red square"], config.VocabSize);
        var data = new InMemoryPrefixLmData([TestModels.ImageTextSample(config, random, 4)], [], seed: 1);
        var error = Assert.Throws<InvalidOperationException>(() => SimVlmTrainer.Start(config, new TrainingOptions { Device = "cuda:1", Steps = 1 }, tokenizer, data));
        Assert.Contains("cuda:1", error.Message);
    }
}
