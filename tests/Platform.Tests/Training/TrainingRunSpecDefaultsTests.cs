using Platform.Grains.Devices;
using Platform.Grains.Training;
using Platform.Model;
using Platform.Model.Training;

namespace Platform.Tests.Training;

public sealed class TrainingRunSpecDefaultsTests
{
    [Fact]
    public void A_spec_s_defaults_map_to_the_model_library_s_training_defaults()
    {
        string folder = Path.Combine(Path.GetTempPath(), "spec-defaults-" + Guid.NewGuid().ToString("N"));
        var request = TrainingSpecMapping.Request(new TrainingRunSpec { RunId = "run", Dataset = "pairs" }, [], folder, new DeviceAddress("silo", "cpu:0"));

        Assert.Equal(new TrainingOptions() with { CheckpointDirectory = folder, Device = "cpu" }, request.Options);
        var modelDefaults = new TrainingRunRequest { Shards = [], Preset = SimVlmConfig.Tiny, Options = new TrainingOptions() };
        Assert.Equal((modelDefaults.ShuffleBuffer, modelDefaults.Tokenizer, modelDefaults.Documents.Count), (request.ShuffleBuffer, request.Tokenizer, request.Documents.Count));
        Assert.Equal(SimVlmConfig.Tiny.Width, request.Preset.Width);
        Assert.Equal(SimVlmConfig.Tiny.StageDepths, request.Preset.StageDepths);
        Assert.False(request.Resume);
    }

    [Theory]
    [InlineData("cpu:0", "cpu")]
    [InlineData("cpu:3", "cpu")]
    [InlineData("cuda:0", "cuda:0")]
    [InlineData("cuda:1", "cuda:1")]
    public void A_trainer_trains_on_the_very_device_the_scheduler_gave_it(string allocated, string trainsOn)
    {
        var request = TrainingSpecMapping.Request(new TrainingRunSpec { RunId = "run", Dataset = "pairs" }, [], "/tmp/unused", new DeviceAddress("silo", allocated));

        Assert.Equal(trainsOn, request.Options.Device);
        Assert.Same(request.Options, request.Options.Validate());
    }
}
