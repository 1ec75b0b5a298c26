/*eslint-disable block-scoped-var, id-length, no-control-regex, no-magic-numbers, no-mixed-operators, no-prototype-builtins, no-redeclare, no-shadow, no-var, sort-vars, default-case, jsdoc/require-param*/
import $protobuf from "protobufjs/minimal.js";

// Common aliases
const $Reader = $protobuf.Reader, $Writer = $protobuf.Writer, $util = $protobuf.util;
const $Object = $util.global.Object, $undefined = $util.global.undefined, $Error = $util.global.Error, $RangeError = $util.global.RangeError, $Array = $util.global.Array, $TypeError = $util.global.TypeError, $String = $util.global.String, $Number = $util.global.Number, $parseInt = $util.global.parseInt, $BigInt = $util.global.BigInt;

// Exported root namespace
const $root = $protobuf.roots["default"] || ($protobuf.roots["default"] = {});

export const waltz = $root.waltz = (() => {

    /**
     * Namespace waltz.
     * @exports waltz
     * @namespace
     */
    const waltz = {};

    waltz.example = (function() {

        /**
         * Namespace example.
         * @memberof waltz
         * @namespace
         */
        const example = {};

        /**
         * Side enum.
         * @name waltz.example.Side
         * @enum {number}
         * @property {number} SIDE_UNSPECIFIED=0 SIDE_UNSPECIFIED value
         * @property {number} SIDE_BUY=1 SIDE_BUY value
         * @property {number} SIDE_SELL=2 SIDE_SELL value
         */
        example.Side = (function() {
            const valuesById = $Object.create(null), values = $Object.create(valuesById);
            values[valuesById[0] = "SIDE_UNSPECIFIED"] = 0;
            values[valuesById[1] = "SIDE_BUY"] = 1;
            values[valuesById[2] = "SIDE_SELL"] = 2;
            return values;
        })();

        example.OrderPlaced = (function() {

            /**
             * Properties of an OrderPlaced.
             * @typedef {Object} waltz.example.OrderPlaced.$Properties
             * @property {string|null} [orderId] OrderPlaced orderId
             * @property {string|null} [accountId] OrderPlaced accountId
             * @property {string|null} [symbol] OrderPlaced symbol
             * @property {waltz.example.Side|null} [side] OrderPlaced side
             * @property {number|Long|null} [price] OrderPlaced price
             * @property {number|Long|null} [quantity] OrderPlaced quantity
             * @property {Array.<string>|null} [tags] OrderPlaced tags
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of an OrderPlaced.
             * @memberof waltz.example
             * @interface IOrderPlaced
             * @augments waltz.example.OrderPlaced.$Properties
             * @deprecated Use waltz.example.OrderPlaced.$Properties instead.
             */

            /**
             * Shape of an OrderPlaced.
             * @typedef {waltz.example.OrderPlaced.$Properties} waltz.example.OrderPlaced.$Shape
             */

            /**
             * Constructs a new OrderPlaced.
             * @memberof waltz.example
             * @classdesc Represents an OrderPlaced.
             * @constructor
             * @param {waltz.example.OrderPlaced.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const OrderPlaced = function (properties) {
                this.tags = [];
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * OrderPlaced orderId.
             * @member {string} orderId
             * @memberof waltz.example.OrderPlaced
             * @instance
             */
            OrderPlaced.prototype.orderId = "";

            /**
             * OrderPlaced accountId.
             * @member {string} accountId
             * @memberof waltz.example.OrderPlaced
             * @instance
             */
            OrderPlaced.prototype.accountId = "";

            /**
             * OrderPlaced symbol.
             * @member {string} symbol
             * @memberof waltz.example.OrderPlaced
             * @instance
             */
            OrderPlaced.prototype.symbol = "";

            /**
             * OrderPlaced side.
             * @member {waltz.example.Side} side
             * @memberof waltz.example.OrderPlaced
             * @instance
             */
            OrderPlaced.prototype.side = 0;

            /**
             * OrderPlaced price.
             * @member {number|Long} price
             * @memberof waltz.example.OrderPlaced
             * @instance
             */
            OrderPlaced.prototype.price = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

            /**
             * OrderPlaced quantity.
             * @member {number|Long} quantity
             * @memberof waltz.example.OrderPlaced
             * @instance
             */
            OrderPlaced.prototype.quantity = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

            /**
             * OrderPlaced tags.
             * @member {Array.<string>} tags
             * @memberof waltz.example.OrderPlaced
             * @instance
             */
            OrderPlaced.prototype.tags = $util.emptyArray;

            /**
             * Creates a new OrderPlaced instance using the specified properties.
             * @function create
             * @memberof waltz.example.OrderPlaced
             * @static
             * @param {waltz.example.OrderPlaced.$Properties=} [properties] Properties to set
             * @returns {waltz.example.OrderPlaced} OrderPlaced instance
             * @type {{
             *   (properties: waltz.example.OrderPlaced.$Shape): waltz.example.OrderPlaced & waltz.example.OrderPlaced.$Shape;
             *   (properties?: waltz.example.OrderPlaced.$Properties): waltz.example.OrderPlaced;
             * }}
             */
            OrderPlaced.create = function(properties) {
                return new OrderPlaced(properties);
            };

            /**
             * Encodes the specified OrderPlaced message. Does not implicitly {@link waltz.example.OrderPlaced.verify|verify} messages.
             * @function encode
             * @memberof waltz.example.OrderPlaced
             * @static
             * @param {waltz.example.OrderPlaced.$Properties} message OrderPlaced message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            OrderPlaced.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.orderId != null && $Object.hasOwnProperty.call(message, "orderId") && message.orderId !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.orderId);
                if (message.accountId != null && $Object.hasOwnProperty.call(message, "accountId") && message.accountId !== "")
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.accountId);
                if (message.symbol != null && $Object.hasOwnProperty.call(message, "symbol") && message.symbol !== "")
                    writer.uint32(/* id 3, wireType 2 =*/26).string(message.symbol);
                if (message.side != null && $Object.hasOwnProperty.call(message, "side") && message.side !== 0)
                    writer.uint32(/* id 4, wireType 0 =*/32).int32(message.side);
                if (message.price != null && $Object.hasOwnProperty.call(message, "price") && (typeof message.price === "object" ? message.price.low || message.price.high : message.price !== 0))
                    writer.uint32(/* id 5, wireType 0 =*/40).int64(message.price);
                if (message.quantity != null && $Object.hasOwnProperty.call(message, "quantity") && (typeof message.quantity === "object" ? message.quantity.low || message.quantity.high : message.quantity !== 0))
                    writer.uint32(/* id 6, wireType 0 =*/48).int64(message.quantity);
                if (message.tags != null && message.tags.length)
                    for (let i = 0; i < message.tags.length; ++i)
                        writer.uint32(/* id 7, wireType 2 =*/58).string(message.tags[i]);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Encodes the specified OrderPlaced message, length delimited. Does not implicitly {@link waltz.example.OrderPlaced.verify|verify} messages.
             * @function encodeDelimited
             * @memberof waltz.example.OrderPlaced
             * @static
             * @param {waltz.example.OrderPlaced.$Properties} message OrderPlaced message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            OrderPlaced.encodeDelimited = function(message, writer) {
                return this.encode(message, (writer || $Writer.create()).fork()).ldelim();
            };

            /**
             * Decodes an OrderPlaced message from the specified reader or buffer.
             * @function decode
             * @memberof waltz.example.OrderPlaced
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {waltz.example.OrderPlaced & waltz.example.OrderPlaced.$Shape} OrderPlaced
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            OrderPlaced.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.waltz.example.OrderPlaced();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.orderId = value;
                            else
                                delete message.orderId;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.accountId = value;
                            else
                                delete message.accountId;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.symbol = value;
                            else
                                delete message.symbol;
                            continue;
                        }
                    case 4: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.side = value;
                            else
                                delete message.side;
                            continue;
                        }
                    case 5: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.int64()) === "object" ? value.low || value.high : value !== 0)
                                message.price = value;
                            else
                                delete message.price;
                            continue;
                        }
                    case 6: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.int64()) === "object" ? value.low || value.high : value !== 0)
                                message.quantity = value;
                            else
                                delete message.quantity;
                            continue;
                        }
                    case 7: {
                            if (wireType !== 2)
                                break;
                            if (!(message.tags && message.tags.length))
                                message.tags = [];
                            message.tags.push(reader.stringVerify());
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Decodes an OrderPlaced message from the specified reader or buffer, length delimited.
             * @function decodeDelimited
             * @memberof waltz.example.OrderPlaced
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @returns {waltz.example.OrderPlaced & waltz.example.OrderPlaced.$Shape} OrderPlaced
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            OrderPlaced.decodeDelimited = function(reader) {
                if (!(reader instanceof $Reader))
                    reader = new $Reader(reader);
                return this.decode(reader, reader.size());
            };

            /**
             * Verifies an OrderPlaced message.
             * @function verify
             * @memberof waltz.example.OrderPlaced
             * @static
             * @param {Object.<string,*>} message Plain object to verify
             * @returns {string|null} `null` if valid, otherwise the reason why it is not
             */
            OrderPlaced.verify = function (message, _depth) {
                if (typeof message !== "object" || message === null)
                    return "object expected";
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    return "max depth exceeded";
                if (message.orderId != null && $Object.hasOwnProperty.call(message, "orderId"))
                    if (!$util.isString(message.orderId))
                        return "orderId: string expected";
                if (message.accountId != null && $Object.hasOwnProperty.call(message, "accountId"))
                    if (!$util.isString(message.accountId))
                        return "accountId: string expected";
                if (message.symbol != null && $Object.hasOwnProperty.call(message, "symbol"))
                    if (!$util.isString(message.symbol))
                        return "symbol: string expected";
                if (message.side != null && $Object.hasOwnProperty.call(message, "side"))
                    if (typeof message.side !== "number" || (message.side | 0) !== message.side)
                        return "side: enum value expected";
                if (message.price != null && $Object.hasOwnProperty.call(message, "price"))
                    if (!$util.isInteger(message.price) && !(message.price && $util.isInteger(message.price.low) && $util.isInteger(message.price.high)))
                        return "price: integer|Long expected";
                if (message.quantity != null && $Object.hasOwnProperty.call(message, "quantity"))
                    if (!$util.isInteger(message.quantity) && !(message.quantity && $util.isInteger(message.quantity.low) && $util.isInteger(message.quantity.high)))
                        return "quantity: integer|Long expected";
                if (message.tags != null && $Object.hasOwnProperty.call(message, "tags")) {
                    if (!$Array.isArray(message.tags))
                        return "tags: array expected";
                    for (let i = 0; i < message.tags.length; ++i)
                        if (!$util.isString(message.tags[i]))
                            return "tags: string[] expected";
                }
                return null;
            };

            /**
             * Creates an OrderPlaced message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof waltz.example.OrderPlaced
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {waltz.example.OrderPlaced} OrderPlaced
             */
            OrderPlaced.fromObject = function (object, _depth) {
                if (object instanceof $root.waltz.example.OrderPlaced)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".waltz.example.OrderPlaced: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.waltz.example.OrderPlaced();
                if (object.orderId != null)
                    if (typeof object.orderId !== "string" || object.orderId.length)
                        message.orderId = $String(object.orderId);
                if (object.accountId != null)
                    if (typeof object.accountId !== "string" || object.accountId.length)
                        message.accountId = $String(object.accountId);
                if (object.symbol != null)
                    if (typeof object.symbol !== "string" || object.symbol.length)
                        message.symbol = $String(object.symbol);
                if (object.side !== 0 && (typeof object.side !== "string" || $root.waltz.example.Side[object.side] !== 0))
                    switch (object.side) {
                    case "SIDE_UNSPECIFIED":
                    case 0:
                        message.side = 0;
                        break;
                    case "SIDE_BUY":
                    case 1:
                        message.side = 1;
                        break;
                    case "SIDE_SELL":
                    case 2:
                        message.side = 2;
                        break;
                    default:
                        if (typeof object.side === "number" && (object.side | 0) === object.side)
                            message.side = object.side;
                    }
                if (object.price != null)
                    if (typeof object.price === "object" ? object.price.low || object.price.high : $Number(object.price) !== 0)
                        if ($util.Long)
                            message.price = $util.Long.fromValue(object.price, false);
                        else if (typeof object.price === "string")
                            message.price = $parseInt(object.price, 10);
                        else if (typeof object.price === "number")
                            message.price = object.price;
                        else if (typeof object.price === "object")
                            message.price = new $util.LongBits(object.price.low >>> 0, object.price.high >>> 0).toNumber();
                if (object.quantity != null)
                    if (typeof object.quantity === "object" ? object.quantity.low || object.quantity.high : $Number(object.quantity) !== 0)
                        if ($util.Long)
                            message.quantity = $util.Long.fromValue(object.quantity, false);
                        else if (typeof object.quantity === "string")
                            message.quantity = $parseInt(object.quantity, 10);
                        else if (typeof object.quantity === "number")
                            message.quantity = object.quantity;
                        else if (typeof object.quantity === "object")
                            message.quantity = new $util.LongBits(object.quantity.low >>> 0, object.quantity.high >>> 0).toNumber();
                if (object.tags) {
                    if (!$Array.isArray(object.tags))
                        throw $TypeError(".waltz.example.OrderPlaced.tags: array expected");
                    message.tags = $Array(object.tags.length);
                    for (let i = 0; i < object.tags.length; ++i)
                        message.tags[i] = $String(object.tags[i]);
                }
                return message;
            };

            /**
             * Creates a plain object from an OrderPlaced message. Also converts values to other types if specified.
             * @function toObject
             * @memberof waltz.example.OrderPlaced
             * @static
             * @param {waltz.example.OrderPlaced} message OrderPlaced
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            OrderPlaced.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.arrays || options.defaults)
                    object.tags = [];
                if (options.defaults) {
                    object.orderId = "";
                    object.accountId = "";
                    object.symbol = "";
                    object.side = options.enums === $String ? "SIDE_UNSPECIFIED" : 0;
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, false);
                        object.price = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.price = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, false);
                        object.quantity = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.quantity = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                }
                if (message.orderId != null && $Object.hasOwnProperty.call(message, "orderId"))
                    object.orderId = message.orderId;
                if (message.accountId != null && $Object.hasOwnProperty.call(message, "accountId"))
                    object.accountId = message.accountId;
                if (message.symbol != null && $Object.hasOwnProperty.call(message, "symbol"))
                    object.symbol = message.symbol;
                if (message.side != null && $Object.hasOwnProperty.call(message, "side"))
                    object.side = options.enums === $String ? $root.waltz.example.Side[message.side] === $undefined ? message.side : $root.waltz.example.Side[message.side] : message.side;
                if (message.price != null && $Object.hasOwnProperty.call(message, "price"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.price = typeof message.price === "number" ? $BigInt(message.price) : $util.Long.fromBits(message.price.low >>> 0, message.price.high >>> 0, false).toBigInt();
                    else if (typeof message.price === "number")
                        object.price = options.longs === $String ? $String(message.price) : message.price;
                    else
                        object.price = options.longs === $String ? $util.Long.prototype.toString.call(message.price) : options.longs === $Number ? new $util.LongBits(message.price.low >>> 0, message.price.high >>> 0).toNumber() : message.price;
                if (message.quantity != null && $Object.hasOwnProperty.call(message, "quantity"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.quantity = typeof message.quantity === "number" ? $BigInt(message.quantity) : $util.Long.fromBits(message.quantity.low >>> 0, message.quantity.high >>> 0, false).toBigInt();
                    else if (typeof message.quantity === "number")
                        object.quantity = options.longs === $String ? $String(message.quantity) : message.quantity;
                    else
                        object.quantity = options.longs === $String ? $util.Long.prototype.toString.call(message.quantity) : options.longs === $Number ? new $util.LongBits(message.quantity.low >>> 0, message.quantity.high >>> 0).toNumber() : message.quantity;
                if (message.tags && message.tags.length) {
                    object.tags = $Array(message.tags.length);
                    for (let j = 0; j < message.tags.length; ++j)
                        object.tags[j] = message.tags[j];
                }
                return object;
            };

            /**
             * Converts this OrderPlaced to JSON.
             * @function toJSON
             * @memberof waltz.example.OrderPlaced
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            OrderPlaced.prototype.toJSON = function() {
                return OrderPlaced.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for OrderPlaced
             * @function getTypeUrl
             * @memberof waltz.example.OrderPlaced
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            OrderPlaced.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/waltz.example.OrderPlaced";
            };

            return OrderPlaced;
        })();

        example.OrderCancelled = (function() {

            /**
             * Properties of an OrderCancelled.
             * @typedef {Object} waltz.example.OrderCancelled.$Properties
             * @property {string|null} [orderId] OrderCancelled orderId
             * @property {string|null} [reason] OrderCancelled reason
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of an OrderCancelled.
             * @memberof waltz.example
             * @interface IOrderCancelled
             * @augments waltz.example.OrderCancelled.$Properties
             * @deprecated Use waltz.example.OrderCancelled.$Properties instead.
             */

            /**
             * Shape of an OrderCancelled.
             * @typedef {waltz.example.OrderCancelled.$Properties} waltz.example.OrderCancelled.$Shape
             */

            /**
             * Constructs a new OrderCancelled.
             * @memberof waltz.example
             * @classdesc Represents an OrderCancelled.
             * @constructor
             * @param {waltz.example.OrderCancelled.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const OrderCancelled = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * OrderCancelled orderId.
             * @member {string} orderId
             * @memberof waltz.example.OrderCancelled
             * @instance
             */
            OrderCancelled.prototype.orderId = "";

            /**
             * OrderCancelled reason.
             * @member {string} reason
             * @memberof waltz.example.OrderCancelled
             * @instance
             */
            OrderCancelled.prototype.reason = "";

            /**
             * Creates a new OrderCancelled instance using the specified properties.
             * @function create
             * @memberof waltz.example.OrderCancelled
             * @static
             * @param {waltz.example.OrderCancelled.$Properties=} [properties] Properties to set
             * @returns {waltz.example.OrderCancelled} OrderCancelled instance
             * @type {{
             *   (properties: waltz.example.OrderCancelled.$Shape): waltz.example.OrderCancelled & waltz.example.OrderCancelled.$Shape;
             *   (properties?: waltz.example.OrderCancelled.$Properties): waltz.example.OrderCancelled;
             * }}
             */
            OrderCancelled.create = function(properties) {
                return new OrderCancelled(properties);
            };

            /**
             * Encodes the specified OrderCancelled message. Does not implicitly {@link waltz.example.OrderCancelled.verify|verify} messages.
             * @function encode
             * @memberof waltz.example.OrderCancelled
             * @static
             * @param {waltz.example.OrderCancelled.$Properties} message OrderCancelled message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            OrderCancelled.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.orderId != null && $Object.hasOwnProperty.call(message, "orderId") && message.orderId !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.orderId);
                if (message.reason != null && $Object.hasOwnProperty.call(message, "reason") && message.reason !== "")
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.reason);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Encodes the specified OrderCancelled message, length delimited. Does not implicitly {@link waltz.example.OrderCancelled.verify|verify} messages.
             * @function encodeDelimited
             * @memberof waltz.example.OrderCancelled
             * @static
             * @param {waltz.example.OrderCancelled.$Properties} message OrderCancelled message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            OrderCancelled.encodeDelimited = function(message, writer) {
                return this.encode(message, (writer || $Writer.create()).fork()).ldelim();
            };

            /**
             * Decodes an OrderCancelled message from the specified reader or buffer.
             * @function decode
             * @memberof waltz.example.OrderCancelled
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {waltz.example.OrderCancelled & waltz.example.OrderCancelled.$Shape} OrderCancelled
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            OrderCancelled.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.waltz.example.OrderCancelled();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.orderId = value;
                            else
                                delete message.orderId;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.reason = value;
                            else
                                delete message.reason;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Decodes an OrderCancelled message from the specified reader or buffer, length delimited.
             * @function decodeDelimited
             * @memberof waltz.example.OrderCancelled
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @returns {waltz.example.OrderCancelled & waltz.example.OrderCancelled.$Shape} OrderCancelled
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            OrderCancelled.decodeDelimited = function(reader) {
                if (!(reader instanceof $Reader))
                    reader = new $Reader(reader);
                return this.decode(reader, reader.size());
            };

            /**
             * Verifies an OrderCancelled message.
             * @function verify
             * @memberof waltz.example.OrderCancelled
             * @static
             * @param {Object.<string,*>} message Plain object to verify
             * @returns {string|null} `null` if valid, otherwise the reason why it is not
             */
            OrderCancelled.verify = function (message, _depth) {
                if (typeof message !== "object" || message === null)
                    return "object expected";
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    return "max depth exceeded";
                if (message.orderId != null && $Object.hasOwnProperty.call(message, "orderId"))
                    if (!$util.isString(message.orderId))
                        return "orderId: string expected";
                if (message.reason != null && $Object.hasOwnProperty.call(message, "reason"))
                    if (!$util.isString(message.reason))
                        return "reason: string expected";
                return null;
            };

            /**
             * Creates an OrderCancelled message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof waltz.example.OrderCancelled
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {waltz.example.OrderCancelled} OrderCancelled
             */
            OrderCancelled.fromObject = function (object, _depth) {
                if (object instanceof $root.waltz.example.OrderCancelled)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".waltz.example.OrderCancelled: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.waltz.example.OrderCancelled();
                if (object.orderId != null)
                    if (typeof object.orderId !== "string" || object.orderId.length)
                        message.orderId = $String(object.orderId);
                if (object.reason != null)
                    if (typeof object.reason !== "string" || object.reason.length)
                        message.reason = $String(object.reason);
                return message;
            };

            /**
             * Creates a plain object from an OrderCancelled message. Also converts values to other types if specified.
             * @function toObject
             * @memberof waltz.example.OrderCancelled
             * @static
             * @param {waltz.example.OrderCancelled} message OrderCancelled
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            OrderCancelled.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.defaults) {
                    object.orderId = "";
                    object.reason = "";
                }
                if (message.orderId != null && $Object.hasOwnProperty.call(message, "orderId"))
                    object.orderId = message.orderId;
                if (message.reason != null && $Object.hasOwnProperty.call(message, "reason"))
                    object.reason = message.reason;
                return object;
            };

            /**
             * Converts this OrderCancelled to JSON.
             * @function toJSON
             * @memberof waltz.example.OrderCancelled
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            OrderCancelled.prototype.toJSON = function() {
                return OrderCancelled.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for OrderCancelled
             * @function getTypeUrl
             * @memberof waltz.example.OrderCancelled
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            OrderCancelled.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/waltz.example.OrderCancelled";
            };

            return OrderCancelled;
        })();

        example.TradeExecuted = (function() {

            /**
             * Properties of a TradeExecuted.
             * @typedef {Object} waltz.example.TradeExecuted.$Properties
             * @property {string|null} [tradeId] TradeExecuted tradeId
             * @property {string|null} [buyOrderId] TradeExecuted buyOrderId
             * @property {string|null} [sellOrderId] TradeExecuted sellOrderId
             * @property {number|Long|null} [price] TradeExecuted price
             * @property {number|Long|null} [quantity] TradeExecuted quantity
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a TradeExecuted.
             * @memberof waltz.example
             * @interface ITradeExecuted
             * @augments waltz.example.TradeExecuted.$Properties
             * @deprecated Use waltz.example.TradeExecuted.$Properties instead.
             */

            /**
             * Shape of a TradeExecuted.
             * @typedef {waltz.example.TradeExecuted.$Properties} waltz.example.TradeExecuted.$Shape
             */

            /**
             * Constructs a new TradeExecuted.
             * @memberof waltz.example
             * @classdesc Represents a TradeExecuted.
             * @constructor
             * @param {waltz.example.TradeExecuted.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const TradeExecuted = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * TradeExecuted tradeId.
             * @member {string} tradeId
             * @memberof waltz.example.TradeExecuted
             * @instance
             */
            TradeExecuted.prototype.tradeId = "";

            /**
             * TradeExecuted buyOrderId.
             * @member {string} buyOrderId
             * @memberof waltz.example.TradeExecuted
             * @instance
             */
            TradeExecuted.prototype.buyOrderId = "";

            /**
             * TradeExecuted sellOrderId.
             * @member {string} sellOrderId
             * @memberof waltz.example.TradeExecuted
             * @instance
             */
            TradeExecuted.prototype.sellOrderId = "";

            /**
             * TradeExecuted price.
             * @member {number|Long} price
             * @memberof waltz.example.TradeExecuted
             * @instance
             */
            TradeExecuted.prototype.price = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

            /**
             * TradeExecuted quantity.
             * @member {number|Long} quantity
             * @memberof waltz.example.TradeExecuted
             * @instance
             */
            TradeExecuted.prototype.quantity = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

            /**
             * Creates a new TradeExecuted instance using the specified properties.
             * @function create
             * @memberof waltz.example.TradeExecuted
             * @static
             * @param {waltz.example.TradeExecuted.$Properties=} [properties] Properties to set
             * @returns {waltz.example.TradeExecuted} TradeExecuted instance
             * @type {{
             *   (properties: waltz.example.TradeExecuted.$Shape): waltz.example.TradeExecuted & waltz.example.TradeExecuted.$Shape;
             *   (properties?: waltz.example.TradeExecuted.$Properties): waltz.example.TradeExecuted;
             * }}
             */
            TradeExecuted.create = function(properties) {
                return new TradeExecuted(properties);
            };

            /**
             * Encodes the specified TradeExecuted message. Does not implicitly {@link waltz.example.TradeExecuted.verify|verify} messages.
             * @function encode
             * @memberof waltz.example.TradeExecuted
             * @static
             * @param {waltz.example.TradeExecuted.$Properties} message TradeExecuted message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            TradeExecuted.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.tradeId != null && $Object.hasOwnProperty.call(message, "tradeId") && message.tradeId !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.tradeId);
                if (message.buyOrderId != null && $Object.hasOwnProperty.call(message, "buyOrderId") && message.buyOrderId !== "")
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.buyOrderId);
                if (message.sellOrderId != null && $Object.hasOwnProperty.call(message, "sellOrderId") && message.sellOrderId !== "")
                    writer.uint32(/* id 3, wireType 2 =*/26).string(message.sellOrderId);
                if (message.price != null && $Object.hasOwnProperty.call(message, "price") && (typeof message.price === "object" ? message.price.low || message.price.high : message.price !== 0))
                    writer.uint32(/* id 4, wireType 0 =*/32).int64(message.price);
                if (message.quantity != null && $Object.hasOwnProperty.call(message, "quantity") && (typeof message.quantity === "object" ? message.quantity.low || message.quantity.high : message.quantity !== 0))
                    writer.uint32(/* id 5, wireType 0 =*/40).int64(message.quantity);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Encodes the specified TradeExecuted message, length delimited. Does not implicitly {@link waltz.example.TradeExecuted.verify|verify} messages.
             * @function encodeDelimited
             * @memberof waltz.example.TradeExecuted
             * @static
             * @param {waltz.example.TradeExecuted.$Properties} message TradeExecuted message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            TradeExecuted.encodeDelimited = function(message, writer) {
                return this.encode(message, (writer || $Writer.create()).fork()).ldelim();
            };

            /**
             * Decodes a TradeExecuted message from the specified reader or buffer.
             * @function decode
             * @memberof waltz.example.TradeExecuted
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {waltz.example.TradeExecuted & waltz.example.TradeExecuted.$Shape} TradeExecuted
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            TradeExecuted.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.waltz.example.TradeExecuted();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.tradeId = value;
                            else
                                delete message.tradeId;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.buyOrderId = value;
                            else
                                delete message.buyOrderId;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.sellOrderId = value;
                            else
                                delete message.sellOrderId;
                            continue;
                        }
                    case 4: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.int64()) === "object" ? value.low || value.high : value !== 0)
                                message.price = value;
                            else
                                delete message.price;
                            continue;
                        }
                    case 5: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.int64()) === "object" ? value.low || value.high : value !== 0)
                                message.quantity = value;
                            else
                                delete message.quantity;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Decodes a TradeExecuted message from the specified reader or buffer, length delimited.
             * @function decodeDelimited
             * @memberof waltz.example.TradeExecuted
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @returns {waltz.example.TradeExecuted & waltz.example.TradeExecuted.$Shape} TradeExecuted
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            TradeExecuted.decodeDelimited = function(reader) {
                if (!(reader instanceof $Reader))
                    reader = new $Reader(reader);
                return this.decode(reader, reader.size());
            };

            /**
             * Verifies a TradeExecuted message.
             * @function verify
             * @memberof waltz.example.TradeExecuted
             * @static
             * @param {Object.<string,*>} message Plain object to verify
             * @returns {string|null} `null` if valid, otherwise the reason why it is not
             */
            TradeExecuted.verify = function (message, _depth) {
                if (typeof message !== "object" || message === null)
                    return "object expected";
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    return "max depth exceeded";
                if (message.tradeId != null && $Object.hasOwnProperty.call(message, "tradeId"))
                    if (!$util.isString(message.tradeId))
                        return "tradeId: string expected";
                if (message.buyOrderId != null && $Object.hasOwnProperty.call(message, "buyOrderId"))
                    if (!$util.isString(message.buyOrderId))
                        return "buyOrderId: string expected";
                if (message.sellOrderId != null && $Object.hasOwnProperty.call(message, "sellOrderId"))
                    if (!$util.isString(message.sellOrderId))
                        return "sellOrderId: string expected";
                if (message.price != null && $Object.hasOwnProperty.call(message, "price"))
                    if (!$util.isInteger(message.price) && !(message.price && $util.isInteger(message.price.low) && $util.isInteger(message.price.high)))
                        return "price: integer|Long expected";
                if (message.quantity != null && $Object.hasOwnProperty.call(message, "quantity"))
                    if (!$util.isInteger(message.quantity) && !(message.quantity && $util.isInteger(message.quantity.low) && $util.isInteger(message.quantity.high)))
                        return "quantity: integer|Long expected";
                return null;
            };

            /**
             * Creates a TradeExecuted message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof waltz.example.TradeExecuted
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {waltz.example.TradeExecuted} TradeExecuted
             */
            TradeExecuted.fromObject = function (object, _depth) {
                if (object instanceof $root.waltz.example.TradeExecuted)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".waltz.example.TradeExecuted: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.waltz.example.TradeExecuted();
                if (object.tradeId != null)
                    if (typeof object.tradeId !== "string" || object.tradeId.length)
                        message.tradeId = $String(object.tradeId);
                if (object.buyOrderId != null)
                    if (typeof object.buyOrderId !== "string" || object.buyOrderId.length)
                        message.buyOrderId = $String(object.buyOrderId);
                if (object.sellOrderId != null)
                    if (typeof object.sellOrderId !== "string" || object.sellOrderId.length)
                        message.sellOrderId = $String(object.sellOrderId);
                if (object.price != null)
                    if (typeof object.price === "object" ? object.price.low || object.price.high : $Number(object.price) !== 0)
                        if ($util.Long)
                            message.price = $util.Long.fromValue(object.price, false);
                        else if (typeof object.price === "string")
                            message.price = $parseInt(object.price, 10);
                        else if (typeof object.price === "number")
                            message.price = object.price;
                        else if (typeof object.price === "object")
                            message.price = new $util.LongBits(object.price.low >>> 0, object.price.high >>> 0).toNumber();
                if (object.quantity != null)
                    if (typeof object.quantity === "object" ? object.quantity.low || object.quantity.high : $Number(object.quantity) !== 0)
                        if ($util.Long)
                            message.quantity = $util.Long.fromValue(object.quantity, false);
                        else if (typeof object.quantity === "string")
                            message.quantity = $parseInt(object.quantity, 10);
                        else if (typeof object.quantity === "number")
                            message.quantity = object.quantity;
                        else if (typeof object.quantity === "object")
                            message.quantity = new $util.LongBits(object.quantity.low >>> 0, object.quantity.high >>> 0).toNumber();
                return message;
            };

            /**
             * Creates a plain object from a TradeExecuted message. Also converts values to other types if specified.
             * @function toObject
             * @memberof waltz.example.TradeExecuted
             * @static
             * @param {waltz.example.TradeExecuted} message TradeExecuted
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            TradeExecuted.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.defaults) {
                    object.tradeId = "";
                    object.buyOrderId = "";
                    object.sellOrderId = "";
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, false);
                        object.price = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.price = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, false);
                        object.quantity = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.quantity = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                }
                if (message.tradeId != null && $Object.hasOwnProperty.call(message, "tradeId"))
                    object.tradeId = message.tradeId;
                if (message.buyOrderId != null && $Object.hasOwnProperty.call(message, "buyOrderId"))
                    object.buyOrderId = message.buyOrderId;
                if (message.sellOrderId != null && $Object.hasOwnProperty.call(message, "sellOrderId"))
                    object.sellOrderId = message.sellOrderId;
                if (message.price != null && $Object.hasOwnProperty.call(message, "price"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.price = typeof message.price === "number" ? $BigInt(message.price) : $util.Long.fromBits(message.price.low >>> 0, message.price.high >>> 0, false).toBigInt();
                    else if (typeof message.price === "number")
                        object.price = options.longs === $String ? $String(message.price) : message.price;
                    else
                        object.price = options.longs === $String ? $util.Long.prototype.toString.call(message.price) : options.longs === $Number ? new $util.LongBits(message.price.low >>> 0, message.price.high >>> 0).toNumber() : message.price;
                if (message.quantity != null && $Object.hasOwnProperty.call(message, "quantity"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.quantity = typeof message.quantity === "number" ? $BigInt(message.quantity) : $util.Long.fromBits(message.quantity.low >>> 0, message.quantity.high >>> 0, false).toBigInt();
                    else if (typeof message.quantity === "number")
                        object.quantity = options.longs === $String ? $String(message.quantity) : message.quantity;
                    else
                        object.quantity = options.longs === $String ? $util.Long.prototype.toString.call(message.quantity) : options.longs === $Number ? new $util.LongBits(message.quantity.low >>> 0, message.quantity.high >>> 0).toNumber() : message.quantity;
                return object;
            };

            /**
             * Converts this TradeExecuted to JSON.
             * @function toJSON
             * @memberof waltz.example.TradeExecuted
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            TradeExecuted.prototype.toJSON = function() {
                return TradeExecuted.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for TradeExecuted
             * @function getTypeUrl
             * @memberof waltz.example.TradeExecuted
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            TradeExecuted.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/waltz.example.TradeExecuted";
            };

            return TradeExecuted;
        })();

        example.OrderRejected = (function() {

            /**
             * Properties of an OrderRejected.
             * @typedef {Object} waltz.example.OrderRejected.$Properties
             * @property {string|null} [orderId] OrderRejected orderId
             * @property {string|null} [reason] OrderRejected reason
             * @property {number|null} [code] OrderRejected code
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of an OrderRejected.
             * @memberof waltz.example
             * @interface IOrderRejected
             * @augments waltz.example.OrderRejected.$Properties
             * @deprecated Use waltz.example.OrderRejected.$Properties instead.
             */

            /**
             * Shape of an OrderRejected.
             * @typedef {waltz.example.OrderRejected.$Properties} waltz.example.OrderRejected.$Shape
             */

            /**
             * Constructs a new OrderRejected.
             * @memberof waltz.example
             * @classdesc Represents an OrderRejected.
             * @constructor
             * @param {waltz.example.OrderRejected.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const OrderRejected = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * OrderRejected orderId.
             * @member {string} orderId
             * @memberof waltz.example.OrderRejected
             * @instance
             */
            OrderRejected.prototype.orderId = "";

            /**
             * OrderRejected reason.
             * @member {string} reason
             * @memberof waltz.example.OrderRejected
             * @instance
             */
            OrderRejected.prototype.reason = "";

            /**
             * OrderRejected code.
             * @member {number} code
             * @memberof waltz.example.OrderRejected
             * @instance
             */
            OrderRejected.prototype.code = 0;

            /**
             * Creates a new OrderRejected instance using the specified properties.
             * @function create
             * @memberof waltz.example.OrderRejected
             * @static
             * @param {waltz.example.OrderRejected.$Properties=} [properties] Properties to set
             * @returns {waltz.example.OrderRejected} OrderRejected instance
             * @type {{
             *   (properties: waltz.example.OrderRejected.$Shape): waltz.example.OrderRejected & waltz.example.OrderRejected.$Shape;
             *   (properties?: waltz.example.OrderRejected.$Properties): waltz.example.OrderRejected;
             * }}
             */
            OrderRejected.create = function(properties) {
                return new OrderRejected(properties);
            };

            /**
             * Encodes the specified OrderRejected message. Does not implicitly {@link waltz.example.OrderRejected.verify|verify} messages.
             * @function encode
             * @memberof waltz.example.OrderRejected
             * @static
             * @param {waltz.example.OrderRejected.$Properties} message OrderRejected message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            OrderRejected.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.orderId != null && $Object.hasOwnProperty.call(message, "orderId") && message.orderId !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.orderId);
                if (message.reason != null && $Object.hasOwnProperty.call(message, "reason") && message.reason !== "")
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.reason);
                if (message.code != null && $Object.hasOwnProperty.call(message, "code") && message.code !== 0)
                    writer.uint32(/* id 3, wireType 0 =*/24).uint32(message.code);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Encodes the specified OrderRejected message, length delimited. Does not implicitly {@link waltz.example.OrderRejected.verify|verify} messages.
             * @function encodeDelimited
             * @memberof waltz.example.OrderRejected
             * @static
             * @param {waltz.example.OrderRejected.$Properties} message OrderRejected message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            OrderRejected.encodeDelimited = function(message, writer) {
                return this.encode(message, (writer || $Writer.create()).fork()).ldelim();
            };

            /**
             * Decodes an OrderRejected message from the specified reader or buffer.
             * @function decode
             * @memberof waltz.example.OrderRejected
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {waltz.example.OrderRejected & waltz.example.OrderRejected.$Shape} OrderRejected
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            OrderRejected.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.waltz.example.OrderRejected();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.orderId = value;
                            else
                                delete message.orderId;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.reason = value;
                            else
                                delete message.reason;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.uint32())
                                message.code = value;
                            else
                                delete message.code;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Decodes an OrderRejected message from the specified reader or buffer, length delimited.
             * @function decodeDelimited
             * @memberof waltz.example.OrderRejected
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @returns {waltz.example.OrderRejected & waltz.example.OrderRejected.$Shape} OrderRejected
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            OrderRejected.decodeDelimited = function(reader) {
                if (!(reader instanceof $Reader))
                    reader = new $Reader(reader);
                return this.decode(reader, reader.size());
            };

            /**
             * Verifies an OrderRejected message.
             * @function verify
             * @memberof waltz.example.OrderRejected
             * @static
             * @param {Object.<string,*>} message Plain object to verify
             * @returns {string|null} `null` if valid, otherwise the reason why it is not
             */
            OrderRejected.verify = function (message, _depth) {
                if (typeof message !== "object" || message === null)
                    return "object expected";
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    return "max depth exceeded";
                if (message.orderId != null && $Object.hasOwnProperty.call(message, "orderId"))
                    if (!$util.isString(message.orderId))
                        return "orderId: string expected";
                if (message.reason != null && $Object.hasOwnProperty.call(message, "reason"))
                    if (!$util.isString(message.reason))
                        return "reason: string expected";
                if (message.code != null && $Object.hasOwnProperty.call(message, "code"))
                    if (!$util.isInteger(message.code))
                        return "code: integer expected";
                return null;
            };

            /**
             * Creates an OrderRejected message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof waltz.example.OrderRejected
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {waltz.example.OrderRejected} OrderRejected
             */
            OrderRejected.fromObject = function (object, _depth) {
                if (object instanceof $root.waltz.example.OrderRejected)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".waltz.example.OrderRejected: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.waltz.example.OrderRejected();
                if (object.orderId != null)
                    if (typeof object.orderId !== "string" || object.orderId.length)
                        message.orderId = $String(object.orderId);
                if (object.reason != null)
                    if (typeof object.reason !== "string" || object.reason.length)
                        message.reason = $String(object.reason);
                if (object.code != null)
                    if ($Number(object.code) !== 0)
                        message.code = object.code >>> 0;
                return message;
            };

            /**
             * Creates a plain object from an OrderRejected message. Also converts values to other types if specified.
             * @function toObject
             * @memberof waltz.example.OrderRejected
             * @static
             * @param {waltz.example.OrderRejected} message OrderRejected
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            OrderRejected.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.defaults) {
                    object.orderId = "";
                    object.reason = "";
                    object.code = 0;
                }
                if (message.orderId != null && $Object.hasOwnProperty.call(message, "orderId"))
                    object.orderId = message.orderId;
                if (message.reason != null && $Object.hasOwnProperty.call(message, "reason"))
                    object.reason = message.reason;
                if (message.code != null && $Object.hasOwnProperty.call(message, "code"))
                    object.code = message.code;
                return object;
            };

            /**
             * Converts this OrderRejected to JSON.
             * @function toJSON
             * @memberof waltz.example.OrderRejected
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            OrderRejected.prototype.toJSON = function() {
                return OrderRejected.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for OrderRejected
             * @function getTypeUrl
             * @memberof waltz.example.OrderRejected
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            OrderRejected.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/waltz.example.OrderRejected";
            };

            return OrderRejected;
        })();

        return example;
    })();

    return waltz;
})();

export {
  $root as default
};
