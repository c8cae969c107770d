// `afinar train`: fine-tune a torchvision model on an ImageFolder dataset (train/trainer.h).
// Flags are named as in timm's train.py where they overlap, and also answer to the names of
// torchvision's reference script (references/classification/train.py: --data-path,
// --label-smoothing, --lr-scheduler steplr, ...) where it has the same setting. With --config, a
// recipe (train/recipe.h) gives the run and the flags given on the command line override it;
// flags that set a stage (--epochs, --opt, --lr, ...) apply to every stage of the recipe.
#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>
#include <set>

#include "afinar/train/recipe.h"
#include "afinar/train/report.h"
#include "afinar/train/trainer.h"
#include "command.h"

namespace afinar::cli {

namespace {

std::atomic<bool> g_interrupt{false};  // set by SIGINT

class TrainCommand : public Command {
 public:
  const char* name() const override { return "train"; }
  const char* description() const override {
    return "Fine-tune a model on an ImageFolder dataset (train/val/test folders or a split)";
  }
  void setup(CLI::App& app) override {
    app_ = &app;
    train::TrainConfig& c = flags_;
    app.add_option("--config", config_, "Recipe (TOML); flags given here override it")
        ->check(CLI::ExistingFile);
    app.add_option("--data-dir,--data-path", c.data_dir, "ImageFolder root");
    app.add_option("--model,--arch", c.model, "Architecture (resnet18, vgg16_bn, ...)")
        ->capture_default_str();
    app.add_option("--weights", c.weights,
                   "Starting weights (afinar HDF5); tensors whose name and shape match are loaded "
                   "('' : none, random initialisation, overriding a recipe's)")
        ->check(CLI::Validator(
            [](std::string& path) {
              return path.empty() ? std::string() : CLI::ExistingFile(path);
            },
            "FILE"));
    app.add_option("--weights-exclude", c.weights_exclude,
                   "Tensors of --weights not to load (glob patterns, e.g. 'fc.*' for a new head)");
    app.add_option("--num-classes", c.num_classes, "Classes of the new head (default: the data's)");
    app.add_option("--bn-momentum", bn_momentum_,
                   "Every BatchNorm2d's momentum (PyTorch's meaning; default: the model's, 0.1)");
    app.add_option("--head", c.head.kind,
                   "The classifier: default (torchvision's, resized), linear (global pool + "
                   "Linear), mlp (Dropout, Linear, ReLU, Dropout, Linear)")
        ->capture_default_str();
    app.add_option("--head-hidden", c.head.hidden, "Hidden width of the mlp head")
        ->capture_default_str();
    app.add_option("--head-dropout", head_dropout_,
                   "Dropout p of the mlp head before its two Linears (two values)")
        ->expected(2)
        ->capture_default_str();
    app.add_option("-b,--batch-size", c.batch_size, "Batch size")->capture_default_str();
    app.add_option("--validation-batch-size", c.validation_batch_size,
                   "Batch size of validation and test (timm's -vb; 0: the batch size)")
        ->capture_default_str();
    app.add_option("--smoothing,--label-smoothing", c.smoothing, "Label smoothing")
        ->capture_default_str();
    app.add_option("--clip-grad,--clip-grad-norm", c.clip_grad,
                   "Clip the gradients' global L2 norm to this before each step (timm's "
                   "--clip-mode norm; 0: off)")
        ->capture_default_str();
    app.add_option("--grad-accum-steps", c.grad_accum_steps,
                   "Batches whose gradients are summed before each optimizer update (the loss "
                   "divided by their count)")
        ->capture_default_str();
    app.add_option("--mixup,--mixup-alpha", c.mixup.mixup_alpha,
                   "Mixup's alpha: lambda ~ Beta(alpha, alpha) mixes each batch with its mirror "
                   "order (0: off)")
        ->capture_default_str();
    app.add_option(
           "--cutmix,--cutmix-alpha", c.mixup.cutmix_alpha,
           "CutMix's alpha: a box of area (1 - lambda) pasted from the mirror order (0: off)")
        ->capture_default_str();
    app.add_option("--mixup-prob", c.mixup.prob,
                   "Probability that a batch is mixed when --mixup or --cutmix is on")
        ->capture_default_str();
    app.add_option("--mixup-off-epoch", c.mixup.off_epoch,
                   "Train unmixed from this epoch on (0-based, counted over the run; 0: never)")
        ->capture_default_str();
    app.add_option("--mixup-switch-prob", c.mixup.switch_prob,
                   "Probability of CutMix rather than Mixup when both are on")
        ->capture_default_str();
    app.add_option("--patience", c.patience,
                   "Early stopping: epochs without a better validation --eval-metric (0: never)")
        ->capture_default_str();
    app.add_option("--eval-metric", c.eval_metric,
                   "What picks the best epoch, stops early and drives --sched plateau: top1, "
                   "top5, loss or f1_macro")
        ->capture_default_str();
    app.add_option("--image-size,--val-crop-size", c.image_size,
                   "Crop size fed to the model (evaluation's CenterCrop; training's too unless "
                   "--train-crop)")
        ->capture_default_str();
    app.add_option("--resize,--val-resize-size", c.resize,
                   "Evaluation Resize before CenterCrop(--image-size) (0: the image size x "
                   "256/224)")
        ->capture_default_str();
    app.add_option("--crop-mode", c.crop_mode,
                   "center: Resize the shorter side; squash: Resize to a square, the aspect "
                   "ratio not kept")
        ->capture_default_str();
    app.add_option("--interpolation", c.interpolation,
                   "Resampling of the evaluation Resize, RandomResizedCrop and --auto-augment: "
                   "nearest, bilinear or bicubic")
        ->capture_default_str();
    app.add_option("--mean", c.mean, "Normalize's mean (3 values; default ImageNet's)")
        ->expected(3)
        ->delimiter(',');
    app.add_option("--std", c.std, "Normalize's std (3 values; 1,1,1 with mean 0,0,0: pixels/255)")
        ->expected(3)
        ->delimiter(',');
    app.add_option("--val-split", c.val_split, "Validation fraction when there is no val folder")
        ->capture_default_str();
    app.add_option("--test-split", c.test_split, "Test fraction when there is no test folder")
        ->capture_default_str();
    app.add_option("--output,--output-dir", c.output, "Output directory")->capture_default_str();
    app.add_option("--seed", c.seed, "Seed of the split, shuffling, augmentation and dropout")
        ->capture_default_str();
    app.add_option("-j,--workers", c.workers, "Data loading threads")->capture_default_str();
    app.add_option("--device", c.device, "cpu or cuda[:N]")->capture_default_str();
    app.add_option("--max-steps", c.max_steps, "Stop after this many optimizer steps");
    app.add_option("--log-interval,--print-freq", c.log_interval, "Steps between progress lines")
        ->capture_default_str();
    app.add_option("--resume", c.resume,
                   "Continue the run of this checkpoint (RUN/checkpoint.h5; same configuration)")
        ->check(CLI::ExistingFile);
    app.add_flag("--no-shuffle", no_shuffle_, "Keep the training set's order");
    app.add_flag("--no-augment", no_augment_, "Train with the evaluation transform");
    // The training augmentation (torchvision's arguments; timm's flag names where it has them).
    data::TrainTransformOptions& a = c.augmentation;
    app.add_option("--train-crop,--train-crop-size", a.crop,
                   "RandomResizedCrop's size (0: --image-size)")
        ->capture_default_str();
    app.add_option("--scale", scale_, "RandomResizedCrop's area fraction range")
        ->expected(2)
        ->capture_default_str();
    app.add_option("--ratio", ratio_, "RandomResizedCrop's aspect ratio range")
        ->expected(2)
        ->capture_default_str();
    app.add_option("--hflip", a.hflip, "RandomHorizontalFlip's probability")->capture_default_str();
    app.add_option("--vflip", a.vflip, "RandomVerticalFlip's probability")->capture_default_str();
    app.add_option("--auto-augment", a.auto_augment,
                   "torchvision's automatic augmentation after the flip: ta_wide "
                   "(TrivialAugmentWide), ra (RandAugment), imagenet, cifar10 or svhn "
                   "(AutoAugment's policies), augmix (AugMix)");
    app.add_option("--ra-magnitude", a.ra_magnitude, "RandAugment's magnitude bin (0..30)")
        ->capture_default_str();
    app.add_option("--augmix-severity", a.augmix_severity,
                   "AugMix's severity (1..10): its ops' magnitudes come from the bins below it")
        ->capture_default_str();
    app.add_option("--rotation", a.rotation, "RandomRotation's degrees d: angle ~ U(-d, d)")
        ->capture_default_str();
    app.add_option("--color-jitter", color_jitter_,
                   "ColorJitter: v (brightness = contrast = saturation = v), or b c s, or b c s "
                   "hue")
        ->expected(1, 4);
    app.add_option("--translate", translate_, "RandomAffine's translate fractions (x, y)")
        ->expected(2);
    app.add_option("--shear", a.affine_shear, "RandomAffine's shear degrees")
        ->capture_default_str();
    app.add_option("--reprob,--random-erase", a.erasing, "RandomErasing's probability")
        ->capture_default_str();
    app.add_flag("--model-ema", model_ema_,
                 "Keep an exponential moving average of the weights (timm's ModelEmaV3): "
                 "validated beside them, it judges the epochs and fills best.h5 and last.h5");
    app.add_option("--model-ema-decay", c.model_ema_options.decay,
                   "The average's decay per optimizer update")
        ->capture_default_str();
    app.add_flag("--model-ema-warmup", model_ema_warmup_,
                 "Warm the decay up as 1 - (1 + t)^(-2/3), capped at --model-ema-decay");
    app.add_flag("--tta", tta_,
                 "Test evaluation: average each image's logits with its horizontal flip's");
    app.add_flag("--amp", amp_,
                 "bf16 mixed precision (autocast): convs and linears in bf16, float32 weights");
    app.add_option("--amp-dtype", c.amp_dtype,
                   "With --amp: bfloat16, or float16 with dynamic loss scaling (GradScaler)")
        ->capture_default_str();
    app.add_flag("--channels-last", channels_last_,
                 "NHWC weights and activations (PyTorch's memory_format=torch.channels_last)");
    app.add_flag("--detect-anomaly", c.detect_anomaly,
                 "Check every gradient backward computes; the first NaN/inf names its op (slow)");
    // Stage settings.
    app.add_option("--epochs", epochs_, "Epochs")->capture_default_str();
    app.add_option("--opt", opt_,
                   "sgd, adam, adamw or rmsprop (PyTorch's defaults: alpha 0.99, eps 1e-8); "
                   "replacing a recipe's optimizer keeps only the options the new one has")
        ->capture_default_str();
    // Options not given are the optimizer's own PyTorch defaults, as in a recipe.
    app.add_option("--lr", lr_, "Learning rate (default: the optimizer's, 1e-3)");
    app.add_option("--momentum", momentum_,
                   "SGD's or RMSprop's momentum (default: torch.optim's, 0)");
    app.add_option("--weight-decay,--wd", weight_decay_,
                   "Weight decay (default: the optimizer's, 0; AdamW 1e-2)");
    app.add_option("--sched,--lr-scheduler", sched_,
                   "none, step, multistep, exponential, cosine, cosine_restarts, poly, plateau or "
                   "onecycle (torchvision's steplr, exponentiallr and cosineannealinglr too)")
        ->capture_default_str();
    app.add_flag("--sched-on-updates", sched_on_updates_,
                 "Step the schedule after every optimizer update, not every epoch (onecycle "
                 "always does)");
    app.add_option("--decay-epochs,--lr-step-size", step_size_, "StepLR's step size")
        ->capture_default_str();
    app.add_option("--decay-milestones", milestones_, "MultiStepLR's milestones (epochs)");
    app.add_option("--decay-rate,--lr-gamma", gamma_,
                   "gamma of step, multistep, exponential; plateau's factor")
        ->capture_default_str();
    app.add_option("--min-lr,--lr-min", min_lr_,
                   "eta_min of cosine / cosine_restarts, min_lr of plateau")
        ->capture_default_str();
    app.add_option("--patience-epochs", sched_patience_,
                   "plateau: epochs without improvement before the lr drops")
        ->capture_default_str();
    app.add_option("--cooldown-epochs", cooldown_, "plateau: epochs to wait after a drop")
        ->capture_default_str();
    // timm's --warmup-epochs, also under torchvision's reference scripts' --lr-warmup-* names.
    app.add_option("--warmup-epochs,--lr-warmup-epochs", warmup_,
                   "Warm-up epochs before the schedule")
        ->capture_default_str();
    app.add_option("--warmup-method,--lr-warmup-method", warmup_method_,
                   "linear: the lr climbs from lr x --warmup-decay; constant: lr x --warmup-decay "
                   "throughout the warm-up")
        ->capture_default_str();
    app.add_option("--warmup-decay,--lr-warmup-decay", warmup_decay_,
                   "The warm-up's lr factor (linear: its first)")
        ->capture_default_str();
    app.add_option("--norm-weight-decay", norm_weight_decay_,
                   "Weight decay of the batch norms' parameters (torchvision's reference scripts; "
                   "default: --weight-decay)");
    app.add_option("--bias-weight-decay", bias_weight_decay_,
                   "Weight decay of every parameter named bias (torchvision's; default: "
                   "--weight-decay)");
    app.add_option("--lr-decay", lr_decay_,
                   "Discriminative lrs: one group per top-level child, lr / decay^(distance from "
                   "the head) (ULMFiT: 2.6)");
    app.add_option("--freeze", freeze_, "Freeze parameters matching these glob patterns");
    app.add_option("--unfreeze", unfreeze_, "Then unfreeze those matching these patterns");
  }

  int run() override {
    train::TrainConfig c = config_.empty() ? flags_ : train::load_recipe(config_);
    if (config_.empty()) c.stages = {train::StageConfig{}};
    override_run(c);
    for (train::StageConfig& s : c.stages) override_stage(s);
    AFN_CHECK(!c.data_dir.empty(), "train: no dataset: give --data-dir or [data] dir in a recipe");
    // Ctrl-C: finish the current step, write the checkpoint and stop; a second one kills.
    std::signal(SIGINT, [](int) {
      g_interrupt = true;
      std::signal(SIGINT, SIG_DFL);
    });
    const train::TrainResult r = train::run_training(c, std::cout, &g_interrupt);
    std::printf("best epoch %ld: accuracy %.4f, loss %.4f", long(r.best_epoch + 1), r.best.accuracy,
                r.best.loss);
    if (r.has_test) std::printf("; test accuracy %.4f", r.test.accuracy);
    std::printf("\noutputs in %s\n", c.output.c_str());
    try {  // the run is done either way; a report that cannot be made is only a warning
      std::printf("report: %s\n", train::write_report(c.output, {.device = c.device}).c_str());
    } catch (const Error& e) {
      const std::string_view message = user_message(e.what());
      std::fprintf(stderr, "afinar train: no report: %.*s\n", int(message.size()), message.data());
    }
    return 0;
  }

 private:
  // True when the flag is on the command line. Without a recipe the run's settings start from
  // the flags' values anyway; a stage's start from StageConfig's defaults, whose optimizer options
  // are the optimizer's own.
  bool given(const char* flag) const { return app_->count(flag) > 0; }

  // --opt naming another optimizer than the stage's: the options only the old one has (SGD's
  // momentum, Adam's betas) are dropped from the stage and its groups; lr and weight_decay stay.
  void replace_optimizer(train::StageConfig& s) const {
    if (s.optimizer.name == opt_) return;
    const optim::Options known = train::optimizer_defaults(opt_);
    std::set<std::string> dropped;
    auto keep_known = [&](optim::Options& options) {
      std::erase_if(options, [&](const auto& option) {
        if (known.count(option.first)) return false;
        dropped.insert(option.first);
        return true;
      });
    };
    keep_known(s.optimizer.options);
    for (train::GroupConfig& g : s.param_groups) keep_known(g.options);
    if (!dropped.empty()) {
      std::string names;
      for (const std::string& d : dropped) names += (names.empty() ? "" : ", ") + d;
      std::printf("--opt %s replaces the recipe's %s: its options %s do not apply\n", opt_.c_str(),
                  s.optimizer.name.c_str(), names.c_str());
    }
    s.optimizer.name = opt_;
  }

  void override_run(train::TrainConfig& c) const {
    const train::TrainConfig& f = flags_;
    if (given("--data-dir")) c.data_dir = f.data_dir;
    if (given("--model")) c.model = f.model;
    if (given("--weights")) c.weights = f.weights;
    if (given("--weights-exclude")) c.weights_exclude = f.weights_exclude;
    if (given("--num-classes")) c.num_classes = f.num_classes;
    if (given("--bn-momentum")) c.bn_momentum = bn_momentum_;
    if (given("--head")) c.head.kind = f.head.kind;
    if (given("--head-hidden")) c.head.hidden = f.head.hidden;
    if (given("--head-dropout")) c.head.dropout = {head_dropout_.at(0), head_dropout_.at(1)};
    if (given("--batch-size")) c.batch_size = f.batch_size;
    if (given("--validation-batch-size")) c.validation_batch_size = f.validation_batch_size;
    if (given("--smoothing")) c.smoothing = f.smoothing;
    if (given("--clip-grad")) c.clip_grad = f.clip_grad;
    if (given("--grad-accum-steps")) c.grad_accum_steps = f.grad_accum_steps;
    if (given("--mixup")) c.mixup.mixup_alpha = f.mixup.mixup_alpha;
    if (given("--cutmix")) c.mixup.cutmix_alpha = f.mixup.cutmix_alpha;
    if (given("--mixup-prob")) c.mixup.prob = f.mixup.prob;
    if (given("--mixup-switch-prob")) c.mixup.switch_prob = f.mixup.switch_prob;
    if (given("--mixup-off-epoch")) c.mixup.off_epoch = f.mixup.off_epoch;
    if (given("--patience")) c.patience = f.patience;
    if (given("--eval-metric")) c.eval_metric = f.eval_metric;
    if (given("--image-size")) c.image_size = f.image_size;
    if (given("--resize")) c.resize = f.resize;
    if (given("--crop-mode")) c.crop_mode = f.crop_mode;
    if (given("--interpolation")) c.interpolation = f.interpolation;
    if (given("--mean")) c.mean = f.mean;
    if (given("--std")) c.std = f.std;
    if (given("--val-split")) c.val_split = f.val_split;
    if (given("--test-split")) c.test_split = f.test_split;
    if (given("--output")) c.output = f.output;
    if (given("--seed")) c.seed = f.seed;
    if (given("--workers")) c.workers = f.workers;
    if (given("--device")) c.device = f.device;
    if (given("--max-steps")) c.max_steps = f.max_steps;
    if (given("--log-interval")) c.log_interval = f.log_interval;
    if (given("--resume")) c.resume = f.resume;
    if (no_shuffle_) c.shuffle = false;
    if (no_augment_) c.augment = false;
    data::TrainTransformOptions& a = c.augmentation;
    const data::TrainTransformOptions& fa = f.augmentation;
    if (given("--train-crop")) a.crop = fa.crop;
    if (given("--scale")) a.scale = {scale_.at(0), scale_.at(1)};
    if (given("--ratio")) a.ratio = {ratio_.at(0), ratio_.at(1)};
    if (given("--hflip")) a.hflip = fa.hflip;
    if (given("--vflip")) a.vflip = fa.vflip;
    if (given("--auto-augment")) a.auto_augment = fa.auto_augment;
    if (given("--ra-magnitude")) a.ra_magnitude = fa.ra_magnitude;
    if (given("--augmix-severity")) a.augmix_severity = fa.augmix_severity;
    if (given("--rotation")) a.rotation = fa.rotation;
    if (!color_jitter_.empty())
      a.color_jitter = train::color_jitter_from(color_jitter_, "--color-jitter");
    if (!translate_.empty()) a.affine_translate = std::array{translate_.at(0), translate_.at(1)};
    if (given("--shear")) a.affine_shear = fa.affine_shear;
    if (given("--reprob")) a.erasing = fa.erasing;
    if (tta_) c.tta = true;
    if (model_ema_) c.model_ema = true;
    if (given("--model-ema-decay")) c.model_ema_options.decay = f.model_ema_options.decay;
    if (model_ema_warmup_) c.model_ema_options.warmup = true;
    if (amp_) c.amp = true;
    if (given("--amp-dtype")) c.amp_dtype = f.amp_dtype;
    if (channels_last_) c.channels_last = true;
    if (f.detect_anomaly) c.detect_anomaly = true;
  }

  // The schedule --sched names; torchvision's reference script's names stand for the same ones.
  static std::string scheduler_name(const std::string& name) {
    if (name == "steplr") return "step";
    if (name == "exponentiallr") return "exponential";
    if (name == "cosineannealinglr") return "cosine";
    return name;
  }

  void override_stage(train::StageConfig& s) const {
    if (given("--epochs")) s.epochs = epochs_;
    if (given("--opt")) replace_optimizer(s);
    if (given("--lr")) s.optimizer.options["lr"] = lr_;
    if (given("--weight-decay")) s.optimizer.options["weight_decay"] = weight_decay_;
    if (given("--momentum") && train::optimizer_defaults(s.optimizer.name).count("momentum"))
      s.optimizer.options["momentum"] = momentum_;
    if (given("--sched")) s.scheduler.name = scheduler_name(sched_);
    if (given("--decay-epochs")) s.scheduler.args["step_size"] = double(step_size_);
    if (given("--decay-rate")) s.scheduler.args["gamma"] = gamma_;
    if (given("--decay-milestones")) s.scheduler.milestones = milestones_;
    if (given("--min-lr")) s.scheduler.args["eta_min"] = s.scheduler.args["min_lr"] = min_lr_;
    if (given("--patience-epochs")) s.scheduler.args["patience"] = double(sched_patience_);
    if (given("--cooldown-epochs")) s.scheduler.args["cooldown"] = double(cooldown_);
    if (sched_on_updates_) s.scheduler.interval = "step";
    if (given("--warmup-epochs")) s.scheduler.warmup_epochs = warmup_;
    if (given("--warmup-method")) s.scheduler.warmup_method = warmup_method_;
    if (given("--warmup-decay")) s.scheduler.warmup_decay = warmup_decay_;
    if (app_->count("--lr-decay") > 0) s.lr_decay = lr_decay_;
    if (given("--norm-weight-decay")) s.norm_weight_decay = norm_weight_decay_;
    if (given("--bias-weight-decay")) s.bias_weight_decay = bias_weight_decay_;
    if (given("--freeze")) s.freeze = freeze_;
    if (given("--unfreeze")) s.unfreeze = unfreeze_;
  }

  CLI::App* app_ = nullptr;
  std::string config_;
  train::TrainConfig flags_;
  int64_t epochs_ = 1, step_size_ = 7, warmup_ = 0, sched_patience_ = 10, cooldown_ = 0;
  std::vector<int64_t> milestones_;
  std::string opt_ = "sgd", sched_ = "none", warmup_method_ = "linear";
  double lr_ = 0, momentum_ = 0, weight_decay_ = 0, gamma_ = 0.1, min_lr_ = 0;
  double warmup_decay_ = 0.01;
  std::vector<std::string> freeze_, unfreeze_;
  std::vector<double> head_dropout_ = {0.5, 0.3};
  // RandomResizedCrop's ranges, as flags of two values (torchvision's defaults).
  const data::TrainTransformOptions defaults_{};
  std::vector<double> scale_{defaults_.scale.begin(), defaults_.scale.end()};
  std::vector<double> ratio_{defaults_.ratio.begin(), defaults_.ratio.end()};
  std::vector<double> color_jitter_, translate_;
  double lr_decay_ = 0, norm_weight_decay_ = 0, bias_weight_decay_ = 0;
  bool no_shuffle_ = false, no_augment_ = false, tta_ = false, amp_ = false;
  bool model_ema_ = false, model_ema_warmup_ = false;
  double bn_momentum_ = 0.1;
  bool sched_on_updates_ = false;
  bool channels_last_ = false;
};

}  // namespace

AFN_CLI_COMMAND(TrainCommand);

}  // namespace afinar::cli
