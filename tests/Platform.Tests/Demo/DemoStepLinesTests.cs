using Platform.Silo.Demo;

namespace Platform.Tests.Demo;

/// <summary>Which training steps the demo tells: on loaded cores 50 steps took 7.7 minutes, which passed without a line.</summary>
public sealed class DemoStepLinesTests
{
    [Fact]
    public void A_step_is_told_every_interval_at_the_end_and_once_half_a_minute_passed_since_the_last_line_if_the_run_advanced()
    {
        var moment = TimeSpan.FromSeconds(1);
        Assert.True(DemoMission.TellsStep(step: 51, lastPrintedStep: 1, printEvery: 50, finished: false, moment));
        Assert.False(DemoMission.TellsStep(step: 20, lastPrintedStep: 1, printEvery: 50, finished: false, moment));
        Assert.True(DemoMission.TellsStep(step: 20, lastPrintedStep: 1, printEvery: 50, finished: false, DemoMission.StepLineInterval));
        Assert.False(DemoMission.TellsStep(step: 1, lastPrintedStep: 1, printEvery: 50, finished: false, TimeSpan.FromMinutes(5)));
        Assert.True(DemoMission.TellsStep(step: 1000, lastPrintedStep: 951, printEvery: 50, finished: true, moment));
        Assert.False(DemoMission.TellsStep(step: 1000, lastPrintedStep: 1000, printEvery: 50, finished: true, moment));
    }
}
