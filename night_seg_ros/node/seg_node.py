"""seg_node: camera images in; labels, color, overlay, confidence and /diagnostics out.

The node is glue: it declares parameters (from `parameters.PARAMETERS`: typed, ranges in their descriptors, the live
ones settable with `ros2 param set`, the others read-only), publishes the model's class names and palette (read-only
parameters; vision_msgs/LabelInfo where vision_msgs is installed), loads its pipeline with
`pipeline.load_pipeline` (as the bag tool does), sets up QoS, the subscriptions and publishers, and hands frames to
two worker stages (each takes the newest item): decode -> infer, then render -> publish, so inference of one frame
overlaps the rendering and publishing of the one before. Every output, and the camera's CameraInfo scaled to the
outputs' size, carries the input's header unchanged; an output nobody subscribes to is not computed, and while no
output has a subscriber the node does not take frames at all.
"""
from __future__ import annotations

import functools
import sys
import time
from collections.abc import Sequence
from typing import Any

import cv2
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType, SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

try:
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks

try:
    from vision_msgs.msg import LabelInfo, VisionClass
except ImportError:  # vision_msgs is optional: without it the class names are the read-only parameters only
    LabelInfo = VisionClass = None

from night_seg_ros import codec
from night_seg_ros.camera_info import camera_info_topic, scale_camera_info
from night_seg_ros.classes import label_map
from night_seg_ros.errors import NightSegError
from night_seg_ros.node.health import ERROR, WARN, Health
from night_seg_ros.node.latest_frame import FrameWorker, LatestFrameSlot
from night_seg_ros.node.parameters import (
    LIVE_PARAMETERS,
    PARAMETERS,
    PARAMETERS_BY_NAME,
    ParamSpec,
    help_text,
    unknown_parameters,
    validate,
)
from night_seg_ros.node.stats import FrameStats, frame_latency
from night_seg_ros.pipeline import Inference, ModelSetting, OutputRequest, load_pipeline
from night_seg_ros.render import RenderSettings
from night_seg_ros.ros_process import ended, ros_session
from night_seg_ros.tensorrt.cache import EnginePolicy
from night_seg_ros.vocabulary import OUTPUTS as OUTPUT_TOPICS

WARN_THROTTLE_S = 5.0
DIAGNOSTICS_TOPIC = '/diagnostics'
"""Absolute, as diagnostic_aggregator and rqt_robot_monitor expect."""
LABEL_INFO_TOPIC = 'label_info'
CAMERA_INFO_TOPIC = 'camera_info'
"""The outputs' CameraInfo, scaled to their size; published beside them when the camera's own arrives."""
CLASS_PARAMETERS = ('class_names', 'class_palette')
"""Read-only parameters describing the loaded model; values given at start-up are ignored without a word."""
INPUT_CHECK_PERIOD_S = 0.5
"""How often the node checks whether any output has a subscriber (it takes frames only while one has)."""
_PARAMETER_TYPES = {str: ParameterType.PARAMETER_STRING, int: ParameterType.PARAMETER_INTEGER,
                    float: ParameterType.PARAMETER_DOUBLE, bool: ParameterType.PARAMETER_BOOL}


class StartupError(NightSegError, RuntimeError):
    """The node's parameters cannot start it (an invalid value, an option this distribution lacks); says why.

    A missing or broken model and an unusable backend are the pipeline's BundleError and BackendError.
    """


def reliability_policy(name: str, parameter: str = 'input_reliability') -> ReliabilityPolicy:
    """QoS reliability for a value of `parameter` other than 'auto' (which the node resolves from the graph)."""
    if name == 'best_available' and not hasattr(ReliabilityPolicy, 'BEST_AVAILABLE'):
        raise StartupError(f'parameter {parameter} is best_available, which this ROS 2 distribution (Humble) '
                           'does not offer; allowed here: auto, reliable, best_effort')
    return {'best_available': getattr(ReliabilityPolicy, 'BEST_AVAILABLE', None),
            'reliable': ReliabilityPolicy.RELIABLE, 'best_effort': ReliabilityPolicy.BEST_EFFORT}[name]


def parameter_descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """The typed descriptor of `spec`: its range (shown by `ros2 param describe`), read-only unless it is live."""
    descriptor = ParameterDescriptor(name=spec.name, type=_PARAMETER_TYPES[type(spec.default)],
                                     description=spec.description, additional_constraints=f'allowed: {spec.allowed()}',
                                     read_only=not spec.live)
    if isinstance(spec.default, float) and spec.minimum is not None and spec.maximum is not None:
        descriptor.floating_point_range = [FloatingPointRange(from_value=float(spec.minimum),
                                                              to_value=float(spec.maximum), step=0.0)]
    elif (isinstance(spec.default, int) and not isinstance(spec.default, bool) and spec.minimum is not None
          and spec.maximum is not None):
        descriptor.integer_range = [IntegerRange(from_value=int(spec.minimum), to_value=int(spec.maximum), step=1)]
    return descriptor


class SegmentationNode(Node):
    """Semantic segmentation of a camera stream; see the README for topics and parameters."""

    def __init__(self, **kwargs: Any) -> None:
        """Declare and validate parameters, load the model and backend, then start the workers and subscriptions."""
        super().__init__('seg_node', **kwargs)
        # OpenCV renders on one thread: the two stages already run rendering beside inference, and a pool of OpenCV
        # threads per frame would compete with the backend's threads and rclpy's for the same cores (the per-frame
        # figures in docs/BENCHMARKS.md are on one thread).
        cv2.setNumThreads(1)
        self.params = self._declare_parameters()
        for name in ('input_reliability', 'output_reliability'):  # before the model loads (maybe an engine build)
            if self.params[name] != 'auto':
                reliability_policy(self.params[name], name)
        self.pipeline, bundle = load_pipeline(
            self._model_setting(), self.params['confidence_threshold'], self.params['overlay_alpha'],
            self.params['confidence_encoding'], log=self.get_logger(), model_option='parameter model',
            output_resolution=self.params['output_resolution'], render_on=self.params['render_on'])
        self.backend = self.pipeline.backend
        self.bundle_path = bundle.path
        self.stats = FrameStats()
        self.health = Health()
        self._last_frame = time.monotonic()  # the newest frame's arrival, or when the node subscribed
        self._buffers: dict[str, tuple[Image, Any]] = {}

        depth = self.params['qos_depth']
        output_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                                reliability=reliability_policy(self.params['output_reliability']),
                                durability=DurabilityPolicy.VOLATILE)
        self.output_publishers = {topic: self.create_publisher(Image, topic, output_qos) for topic in OUTPUT_TOPICS}
        self.diagnostics_publisher = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)
        self._declare_class_parameters(bundle.classes, bundle.palette)
        self.label_info_publisher = None
        if LabelInfo is not None:
            self.label_info_publisher = self.create_publisher(
                LabelInfo, LABEL_INFO_TOPIC, QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                                                        durability=DurabilityPolicy.TRANSIENT_LOCAL))
            self._publish_label_info()

        self.camera_info_publisher = self.create_publisher(CameraInfo, CAMERA_INFO_TOPIC, output_qos)
        self._camera_info: Any = None  # the newest CameraInfo of the camera
        self._scaled_info: tuple[Any, tuple[int, int], Any] | None = None  # (camera's, output size, scaled)

        # Two stages, each taking the newest item: inference of a frame overlaps rendering and publishing of the one
        # before; a stage that falls behind drops items (counted), so nothing queues up.
        self.slot: LatestFrameSlot[tuple[Any, float]] = LatestFrameSlot()
        self.inferred: LatestFrameSlot[tuple[Any, float, OutputRequest, Inference]] = LatestFrameSlot()
        self.workers = (FrameWorker(self.slot, self._infer, self._on_worker_error, name='seg-infer'),
                        FrameWorker(self.inferred, self._publish, self._on_worker_error, name='seg-publish'))
        for worker in self.workers:
            worker.start()
        compressed = self.params['input_transport'] == 'compressed'
        self._decode = functools.partial(codec.compressed_to_camera if compressed else codec.image_to_camera,
                                         bit_depth=self.params['input_bit_depth'])
        self._input_type, self._input_topic = (CompressedImage, 'image/compressed') if compressed else (Image, 'image')
        self.subscription = None
        self.camera_info_subscription = None
        self._rematch_timer = None
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._reliability = (ReliabilityPolicy.RELIABLE if self.params['input_reliability'] == 'auto'
                             else reliability_policy(self.params['input_reliability']))
        self._subscribe()
        input_topic = self.subscription.topic_name
        self._update_input()
        # On the steady clock: with use_sim_time a ROS-time timer would wait for /clock, and a bag played with
        # --clock waits for the node to subscribe; diagnostics report a stopped camera (or bag) while /clock stands.
        self.input_timer = self.create_timer(INPUT_CHECK_PERIOD_S, self._update_input, clock=self._steady)
        self.diagnostics_timer = self._diagnostics_timer(self.params['diagnostics_period'])
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.get_logger().info(
            f'ready: model {self.bundle_path}, backend {self.backend.describe()}, input '
            f'{input_topic} ({self.params["input_transport"]}, {self.params["input_reliability"]}), '
            f'model input {bundle.input.width}x{bundle.input.height}, outputs at {self.params["output_resolution"]} '
            'resolution; frames are taken while an output has a subscriber')

    def _declare_parameters(self) -> dict[str, Any]:
        """Declare every parameter once (typed, ranged, read-only unless live) and return their values.

        The values given at start-up are checked first, so that a bad one is refused with a message naming the
        parameter and the allowed values (rclpy's own refusal would not name them); a name this node does not have (a
        typo in a parameter file or on the command line) gets one warning naming the closest parameter it has.
        """
        # rclpy keeps the --ros-args / launch values in _parameter_overrides (Humble to Kilted) and offers no public
        # getter; reading them before the declarations is what lets the refusal name the allowed values.
        overrides = self._parameter_overrides
        known = [*PARAMETERS_BY_NAME, *CLASS_PARAMETERS, *(name for name in overrides if self.has_parameter(name))]
        for warning in unknown_parameters(overrides, known, self.get_name()):
            self.get_logger().warning(warning)
        given = {name: parameter.value for name, parameter in overrides.items() if name in PARAMETERS_BY_NAME}
        problems = validate(given)
        if problems:
            raise StartupError('invalid parameters: ' + '; '.join(problems))
        return {spec.name: self.declare_parameter(spec.name, spec.default, parameter_descriptor(spec)).value
                for spec in PARAMETERS}

    def _declare_class_parameters(self, classes: Sequence[str], palette: Sequence[Sequence[int]]) -> None:
        """The model's class names and palette as read-only parameters: id i is class_names[i], coloured
        class_palette[3i:3i+3] (RGB). They describe the loaded model, so values given at start-up are ignored."""
        for name, value, description in (
                (CLASS_PARAMETERS[0], list(classes), 'Class name of each label id (index = id) of the loaded model.'),
                (CLASS_PARAMETERS[1], [int(c) for color in palette for c in color],
                 'RGB colour of each class in the color and overlay images: 3 integers per class id, in id order.')):
            self.declare_parameter(name, value, ParameterDescriptor(description=description, read_only=True),
                                   ignore_override=True)

    def _publish_label_info(self) -> None:
        """vision_msgs/LabelInfo (transient local): the id -> class name map (255: 'unknown', below the threshold)
        and the confidence threshold."""
        names = self.get_parameter('class_names').value
        classes = [VisionClass(class_id=index, class_name=name) for index, name in label_map(names)]
        message = LabelInfo(class_map=classes, threshold=float(self.params['confidence_threshold']))
        message.header.stamp = self.get_clock().now().to_msg()
        self.label_info_publisher.publish(message)

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """`ros2 param set`: validate the live parameters (types, read-only and ranges are rclpy's checks from the
        descriptors) and apply them to the running node, all or none."""
        values = {parameter.name: parameter.value for parameter in parameters if parameter.name in LIVE_PARAMETERS}
        problems = validate(values)
        if problems:
            return SetParametersResult(successful=False, reason='; '.join(problems))
        self.params.update(values)
        self.pipeline.settings = RenderSettings(self.params['confidence_threshold'], self.params['overlay_alpha'])
        if 'diagnostics_period' in values:
            self.destroy_timer(self.diagnostics_timer)
            self.diagnostics_timer = self._diagnostics_timer(values['diagnostics_period'])
        if 'confidence_threshold' in values and self.label_info_publisher is not None:
            self._publish_label_info()
        return SetParametersResult(successful=True)

    def _diagnostics_timer(self, period: float) -> Any:
        return self.create_timer(period, self._publish_diagnostics, clock=self._steady)

    def _model_setting(self) -> ModelSetting:
        """The model, backend and engine the parameters ask for."""
        params = self.params
        return ModelSetting(params['model'], params['model_cache_dir'], params['backend'], params['device'],
                            params['precision'], params['num_threads'], self._engine_policy())

    def _engine_policy(self) -> EnginePolicy:
        """Where the tensorrt backend finds its engine, whether it may build one, and on which DLA core; a build
        logs through this node's logger and stops at Ctrl-C (the context shut down)."""
        dla_core = self.params['dla_core']
        return EnginePolicy(self.params['engine_cache_dir'], self.params['engine_build'],
                            None if dla_core < 0 else dla_core, log=self.get_logger().info,
                            cancelled=lambda: not self.context.ok())

    def _subscribe(self) -> None:
        """(Re)create the input subscriptions: the image with the current reliability, and the camera's CameraInfo
        beside it (`<camera namespace>/camera_info`, as image_transport's CameraSubscriber pairs them)."""
        self._unsubscribe()
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=self.params['qos_depth'], reliability=self._reliability,
                         durability=DurabilityPolicy.VOLATILE)
        events = SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos)
        self.subscription = self.create_subscription(self._input_type, self._input_topic, self._on_image, qos,
                                                     event_callbacks=events)
        info_topic = camera_info_topic(self.subscription.topic_name, self.params['input_transport'])
        if info_topic == self.camera_info_publisher.topic_name:
            self.get_logger().warning(
                f"the camera's {info_topic} is this node's own camera_info output, so it is not republished; start "
                'the node in a namespace of its own or remap image to the camera', once=True)
            return
        info_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT,
                              durability=DurabilityPolicy.VOLATILE)
        self.camera_info_subscription = self.create_subscription(CameraInfo, info_topic, self._on_camera_info,
                                                                 info_qos)

    def _unsubscribe(self) -> None:
        """Stop taking frames and camera infos."""
        for subscription in (self.subscription, self.camera_info_subscription):
            if subscription is not None:
                self.destroy_subscription(subscription)
        self.subscription = self.camera_info_subscription = None

    def _update_input(self) -> None:
        """Take frames only while some output has a subscriber (as Autoware's nodes do): subscribe or unsubscribe."""
        wanted = self._wanted().any()
        if wanted and self.subscription is None:
            self._last_frame = time.monotonic()  # a stopped camera is measured from here
            self._subscribe()
        elif not wanted and self.subscription is not None:
            self._unsubscribe()

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def _on_incompatible_qos(self, _event: Any) -> None:
        """A publisher's QoS does not match the input subscription: with input_reliability auto, re-match soon."""
        if self.subscription is None:
            return
        if self.params['input_reliability'] != 'auto':
            self.get_logger().warning(
                f'a publisher on {self.subscription.topic_name} is incompatible with input_reliability '
                f'{self.params["input_reliability"]}; use input_reliability:=auto or match the camera',
                throttle_duration_sec=WARN_THROTTLE_S)
        elif self._rematch_timer is None:
            self._rematch_timer = self.create_timer(0.05, self._rematch_input_reliability)

    def _rematch_input_reliability(self) -> None:
        """input_reliability auto: best effort when any publisher on the input topic is best effort, else reliable."""
        self.destroy_timer(self._rematch_timer)
        self._rematch_timer = None
        if self.subscription is None:
            return
        publishers = self.get_publishers_info_by_topic(self.subscription.topic_name)
        best_effort = any(info.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for info in publishers)
        wanted = ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE
        if wanted != self.subscription.qos_profile.reliability:
            self.get_logger().info(f'input_reliability auto: subscribing to {self.subscription.topic_name} '
                                   f'{wanted.name.lower()} to match its publishers')
            self._reliability = wanted
            self._subscribe()

    def _on_image(self, msg: Any) -> None:
        """Subscription callback: keep only the newest message (latest frame wins)."""
        self.stats.count('received')
        self._last_frame = arrived = time.monotonic()
        if self.slot.put((msg, arrived)):
            self.stats.count('dropped')

    def _wanted(self) -> OutputRequest:
        counts = {topic: self.output_publishers[topic].get_subscription_count() > 0 for topic in OUTPUT_TOPICS}
        return OutputRequest(**counts)

    def _infer(self, item: tuple[Any, float]) -> None:
        """First stage: decode and infer the newest frame, then hand it to the publishing stage."""
        msg, arrived = item
        request = self._wanted()
        if not request.any():
            self.stats.count('skipped_no_subscribers')
            return
        try:
            camera = self._decode(msg)
        except codec.ImageDecodeError as error:
            self.stats.count('bad_input')
            self.get_logger().warning(f'skipping input frame: {error}', throttle_duration_sec=WARN_THROTTLE_S)
            return
        if self.inferred.put((msg.header, arrived, request, self.pipeline.infer(camera, request))):
            self.stats.count('dropped')

    def _publish(self, item: tuple[Any, float, OutputRequest, Inference]) -> None:
        """Second stage: render each output wanted when the frame was inferred into its message and publish it
        (labels first), then the scaled CameraInfo, all with the input's header."""
        header, arrived, request, inference = item
        height, width = self.pipeline.output_size(inference.camera.pixels.shape[:2])
        for topic in request.names():
            out_msg, buffer = self._output_buffer(topic, height, width)
            self.pipeline.render(topic, inference, dst=buffer)
            out_msg.header = header
            self.output_publishers[topic].publish(out_msg)
        self._publish_camera_info(header, (height, width))
        self.stats.count('processed')
        processing = time.monotonic() - arrived
        latency, from_stamp = frame_latency(self.get_clock().now().nanoseconds, codec.stamp_ns(header), processing)
        if not from_stamp:
            self.stats.count('latency_from_arrival')
        self.stats.record(latency, processing, inference.seconds)

    def _publish_camera_info(self, header: Any, size: tuple[int, int]) -> None:
        """The camera's newest CameraInfo scaled to the outputs' size (height, width), with the frame's header."""
        info = self._camera_info
        if info is None:
            return
        if self._scaled_info is None or self._scaled_info[0] is not info or self._scaled_info[1] != size:
            self._scaled_info = (info, size, scale_camera_info(info, size))
        scaled = self._scaled_info[2]
        scaled.header = header
        self.camera_info_publisher.publish(scaled)

    def _output_buffer(self, topic: str, height: int, width: int) -> tuple[Image, Any]:
        """The reusable output message of `topic` at height x width and a numpy view of its data.

        rclpy copies a message when it is published, so rendering straight into the same buffer every frame saves
        an allocation and a copy of each output image.
        """
        cached = self._buffers.get(topic)
        if cached is None or (cached[0].height, cached[0].width) != (height, width):
            cached = codec.image_buffer(height, width, self.pipeline.output_encoding(topic))
            self._buffers[topic] = cached
        return cached

    def _on_worker_error(self, error: BaseException) -> None:
        """A frame failed: count and log it, unless the context has shut down under it (Ctrl-C mid-frame)."""
        if not self.context.ok():
            return
        self.stats.count('errors')
        self.get_logger().error(f'frame failed: {type(error).__name__}: {error}',
                                throttle_duration_sec=WARN_THROTTLE_S)

    def _publish_diagnostics(self) -> None:
        summary = self.stats.summary()
        subscription = self.subscription
        health = self.health.assess(summary, subscription is not None, time.monotonic() - self._last_frame,
                                    self.params['diagnostics_period'],
                                    subscription.topic_name if subscription is not None else 'the input')
        status = DiagnosticStatus(name=f'{self.get_fully_qualified_name()}: segmentation',
                                  hardware_id=self.backend.describe(), message=health.message,
                                  level={WARN: DiagnosticStatus.WARN, ERROR: DiagnosticStatus.ERROR}.get(
                                      health.level, DiagnosticStatus.OK))
        details = dict(summary, taking_frames=self.subscription is not None, backend=self.backend.describe(),
                       model=str(self.bundle_path))
        status.values = [KeyValue(key=key, value=f'{value:.2f}' if isinstance(value, float) else str(value))
                         for key, value in details.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_publisher.publish(array)

    def stop(self) -> None:
        """Stop the workers before the node is destroyed (they publish with the node's publishers), then the
        backend."""
        for worker in self.workers:
            worker.stop()
        self.backend.close()


def main(args: list[str] | None = None) -> int:
    """Entry point of `seg_node`: run until Ctrl-C; exit 1 with a one-line error when the node cannot start.

    `seg_node --help` (or -h, before any --ros-args) prints the parameters and exits 0 without starting ROS."""
    argv = sys.argv[1:] if args is None else list(args)
    own = argv[:argv.index('--ros-args')] if '--ros-args' in argv else argv
    if '--help' in own or '-h' in own:
        print(help_text())
        return 0
    code = 0
    with ros_session(args) as stop:
        node = None
        try:
            node = SegmentationNode()
            if not stop.is_set():  # a Ctrl-C before rclpy.init installed its handler: rclpy would spin on
                rclpy.spin(node)
        except NightSegError as error:
            if ended(stop):  # Ctrl-C during start-up (an engine build, a wait for another's): the end asked for
                rclpy.logging.get_logger('seg_node').info(f'stopped during start-up: {error}')
            else:
                rclpy.logging.get_logger('seg_node').fatal(f'cannot start: {error}')
                code = 1
        finally:
            if node is not None:
                node.stop()
                node.destroy_node()
    return code

if __name__ == '__main__':
    sys.exit(main())
