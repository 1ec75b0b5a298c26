import * as $protobuf from "protobufjs/minimal.js";
import Long = require("long");

/** Namespace waltz. */
export namespace waltz {

    /** Namespace example. */
    namespace example {

        /** Side enum. */
        enum Side {

            /** SIDE_UNSPECIFIED value */
            SIDE_UNSPECIFIED = 0,

            /** SIDE_BUY value */
            SIDE_BUY = 1,

            /** SIDE_SELL value */
            SIDE_SELL = 2
        }

        /**
         * Properties of an OrderPlaced.
         * @deprecated Use waltz.example.OrderPlaced.$Properties instead.
         */
        interface IOrderPlaced extends waltz.example.OrderPlaced.$Properties {
        }

        /** Represents an OrderPlaced. */
        class OrderPlaced {

            /**
             * Constructs a new OrderPlaced.
             * @param [properties] Properties to set
             */
            constructor(properties?: waltz.example.OrderPlaced.$Properties);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];

            /** OrderPlaced orderId. */
            orderId: string;

            /** OrderPlaced accountId. */
            accountId: string;

            /** OrderPlaced symbol. */
            symbol: string;

            /** OrderPlaced side. */
            side: waltz.example.Side;

            /** OrderPlaced price. */
            price: (number|Long);

            /** OrderPlaced quantity. */
            quantity: (number|Long);

            /** OrderPlaced tags. */
            tags: string[];

            /**
             * Creates a new OrderPlaced instance using the specified properties.
             * @param [properties] Properties to set
             * @returns OrderPlaced instance
             */
            static create(properties: waltz.example.OrderPlaced.$Shape): waltz.example.OrderPlaced & waltz.example.OrderPlaced.$Shape;
            static create(properties?: waltz.example.OrderPlaced.$Properties): waltz.example.OrderPlaced;

            /**
             * Encodes the specified OrderPlaced message. Does not implicitly {@link waltz.example.OrderPlaced.verify|verify} messages.
             * @param message OrderPlaced message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encode(message: waltz.example.OrderPlaced.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Encodes the specified OrderPlaced message, length delimited. Does not implicitly {@link waltz.example.OrderPlaced.verify|verify} messages.
             * @param message OrderPlaced message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encodeDelimited(message: waltz.example.OrderPlaced.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes an OrderPlaced message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns {waltz.example.OrderPlaced & waltz.example.OrderPlaced.$Shape} OrderPlaced
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): waltz.example.OrderPlaced & waltz.example.OrderPlaced.$Shape;

            /**
             * Decodes an OrderPlaced message from the specified reader or buffer, length delimited.
             * @param reader Reader or buffer to decode from
             * @returns {waltz.example.OrderPlaced & waltz.example.OrderPlaced.$Shape} OrderPlaced
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decodeDelimited(reader: ($protobuf.Reader|Uint8Array)): waltz.example.OrderPlaced & waltz.example.OrderPlaced.$Shape;

            /**
             * Verifies an OrderPlaced message.
             * @param message Plain object to verify
             * @returns `null` if valid, otherwise the reason why it is not
             */
            static verify(message: { [k: string]: any }): (string|null);

            /**
             * Creates an OrderPlaced message from a plain object. Also converts values to their respective internal types.
             * @param object Plain object
             * @returns OrderPlaced
             */
            static fromObject(object: { [k: string]: any }): waltz.example.OrderPlaced;

            /**
             * Creates a plain object from an OrderPlaced message. Also converts values to other types if specified.
             * @param message OrderPlaced
             * @param [options] Conversion options
             * @returns Plain object
             */
            static toObject(message: waltz.example.OrderPlaced, options?: $protobuf.IConversionOptions): { [k: string]: any };

            /**
             * Converts this OrderPlaced to JSON.
             * @returns JSON object
             */
            toJSON(): { [k: string]: any };

            /**
             * Gets the type url for OrderPlaced
             * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns The type url
             */
            static getTypeUrl(prefix?: string): string;
        }

        namespace OrderPlaced {

            /** Properties of an OrderPlaced. */
            interface $Properties {

                /** OrderPlaced orderId */
                orderId?: (string|null);

                /** OrderPlaced accountId */
                accountId?: (string|null);

                /** OrderPlaced symbol */
                symbol?: (string|null);

                /** OrderPlaced side */
                side?: (waltz.example.Side|null);

                /** OrderPlaced price */
                price?: (number|Long|null);

                /** OrderPlaced quantity */
                quantity?: (number|Long|null);

                /** OrderPlaced tags */
                tags?: (string[]|null);

                /** Unknown fields preserved while decoding when enabled */
                $unknowns?: Uint8Array[];
            }

            /** Shape of an OrderPlaced. */
            type $Shape = waltz.example.OrderPlaced.$Properties;
        }

        /**
         * Properties of an OrderCancelled.
         * @deprecated Use waltz.example.OrderCancelled.$Properties instead.
         */
        interface IOrderCancelled extends waltz.example.OrderCancelled.$Properties {
        }

        /** Represents an OrderCancelled. */
        class OrderCancelled {

            /**
             * Constructs a new OrderCancelled.
             * @param [properties] Properties to set
             */
            constructor(properties?: waltz.example.OrderCancelled.$Properties);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];

            /** OrderCancelled orderId. */
            orderId: string;

            /** OrderCancelled reason. */
            reason: string;

            /**
             * Creates a new OrderCancelled instance using the specified properties.
             * @param [properties] Properties to set
             * @returns OrderCancelled instance
             */
            static create(properties: waltz.example.OrderCancelled.$Shape): waltz.example.OrderCancelled & waltz.example.OrderCancelled.$Shape;
            static create(properties?: waltz.example.OrderCancelled.$Properties): waltz.example.OrderCancelled;

            /**
             * Encodes the specified OrderCancelled message. Does not implicitly {@link waltz.example.OrderCancelled.verify|verify} messages.
             * @param message OrderCancelled message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encode(message: waltz.example.OrderCancelled.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Encodes the specified OrderCancelled message, length delimited. Does not implicitly {@link waltz.example.OrderCancelled.verify|verify} messages.
             * @param message OrderCancelled message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encodeDelimited(message: waltz.example.OrderCancelled.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes an OrderCancelled message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns {waltz.example.OrderCancelled & waltz.example.OrderCancelled.$Shape} OrderCancelled
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): waltz.example.OrderCancelled & waltz.example.OrderCancelled.$Shape;

            /**
             * Decodes an OrderCancelled message from the specified reader or buffer, length delimited.
             * @param reader Reader or buffer to decode from
             * @returns {waltz.example.OrderCancelled & waltz.example.OrderCancelled.$Shape} OrderCancelled
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decodeDelimited(reader: ($protobuf.Reader|Uint8Array)): waltz.example.OrderCancelled & waltz.example.OrderCancelled.$Shape;

            /**
             * Verifies an OrderCancelled message.
             * @param message Plain object to verify
             * @returns `null` if valid, otherwise the reason why it is not
             */
            static verify(message: { [k: string]: any }): (string|null);

            /**
             * Creates an OrderCancelled message from a plain object. Also converts values to their respective internal types.
             * @param object Plain object
             * @returns OrderCancelled
             */
            static fromObject(object: { [k: string]: any }): waltz.example.OrderCancelled;

            /**
             * Creates a plain object from an OrderCancelled message. Also converts values to other types if specified.
             * @param message OrderCancelled
             * @param [options] Conversion options
             * @returns Plain object
             */
            static toObject(message: waltz.example.OrderCancelled, options?: $protobuf.IConversionOptions): { [k: string]: any };

            /**
             * Converts this OrderCancelled to JSON.
             * @returns JSON object
             */
            toJSON(): { [k: string]: any };

            /**
             * Gets the type url for OrderCancelled
             * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns The type url
             */
            static getTypeUrl(prefix?: string): string;
        }

        namespace OrderCancelled {

            /** Properties of an OrderCancelled. */
            interface $Properties {

                /** OrderCancelled orderId */
                orderId?: (string|null);

                /** OrderCancelled reason */
                reason?: (string|null);

                /** Unknown fields preserved while decoding when enabled */
                $unknowns?: Uint8Array[];
            }

            /** Shape of an OrderCancelled. */
            type $Shape = waltz.example.OrderCancelled.$Properties;
        }

        /**
         * Properties of a TradeExecuted.
         * @deprecated Use waltz.example.TradeExecuted.$Properties instead.
         */
        interface ITradeExecuted extends waltz.example.TradeExecuted.$Properties {
        }

        /** Represents a TradeExecuted. */
        class TradeExecuted {

            /**
             * Constructs a new TradeExecuted.
             * @param [properties] Properties to set
             */
            constructor(properties?: waltz.example.TradeExecuted.$Properties);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];

            /** TradeExecuted tradeId. */
            tradeId: string;

            /** TradeExecuted buyOrderId. */
            buyOrderId: string;

            /** TradeExecuted sellOrderId. */
            sellOrderId: string;

            /** TradeExecuted price. */
            price: (number|Long);

            /** TradeExecuted quantity. */
            quantity: (number|Long);

            /**
             * Creates a new TradeExecuted instance using the specified properties.
             * @param [properties] Properties to set
             * @returns TradeExecuted instance
             */
            static create(properties: waltz.example.TradeExecuted.$Shape): waltz.example.TradeExecuted & waltz.example.TradeExecuted.$Shape;
            static create(properties?: waltz.example.TradeExecuted.$Properties): waltz.example.TradeExecuted;

            /**
             * Encodes the specified TradeExecuted message. Does not implicitly {@link waltz.example.TradeExecuted.verify|verify} messages.
             * @param message TradeExecuted message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encode(message: waltz.example.TradeExecuted.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Encodes the specified TradeExecuted message, length delimited. Does not implicitly {@link waltz.example.TradeExecuted.verify|verify} messages.
             * @param message TradeExecuted message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encodeDelimited(message: waltz.example.TradeExecuted.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes a TradeExecuted message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns {waltz.example.TradeExecuted & waltz.example.TradeExecuted.$Shape} TradeExecuted
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): waltz.example.TradeExecuted & waltz.example.TradeExecuted.$Shape;

            /**
             * Decodes a TradeExecuted message from the specified reader or buffer, length delimited.
             * @param reader Reader or buffer to decode from
             * @returns {waltz.example.TradeExecuted & waltz.example.TradeExecuted.$Shape} TradeExecuted
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decodeDelimited(reader: ($protobuf.Reader|Uint8Array)): waltz.example.TradeExecuted & waltz.example.TradeExecuted.$Shape;

            /**
             * Verifies a TradeExecuted message.
             * @param message Plain object to verify
             * @returns `null` if valid, otherwise the reason why it is not
             */
            static verify(message: { [k: string]: any }): (string|null);

            /**
             * Creates a TradeExecuted message from a plain object. Also converts values to their respective internal types.
             * @param object Plain object
             * @returns TradeExecuted
             */
            static fromObject(object: { [k: string]: any }): waltz.example.TradeExecuted;

            /**
             * Creates a plain object from a TradeExecuted message. Also converts values to other types if specified.
             * @param message TradeExecuted
             * @param [options] Conversion options
             * @returns Plain object
             */
            static toObject(message: waltz.example.TradeExecuted, options?: $protobuf.IConversionOptions): { [k: string]: any };

            /**
             * Converts this TradeExecuted to JSON.
             * @returns JSON object
             */
            toJSON(): { [k: string]: any };

            /**
             * Gets the type url for TradeExecuted
             * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns The type url
             */
            static getTypeUrl(prefix?: string): string;
        }

        namespace TradeExecuted {

            /** Properties of a TradeExecuted. */
            interface $Properties {

                /** TradeExecuted tradeId */
                tradeId?: (string|null);

                /** TradeExecuted buyOrderId */
                buyOrderId?: (string|null);

                /** TradeExecuted sellOrderId */
                sellOrderId?: (string|null);

                /** TradeExecuted price */
                price?: (number|Long|null);

                /** TradeExecuted quantity */
                quantity?: (number|Long|null);

                /** Unknown fields preserved while decoding when enabled */
                $unknowns?: Uint8Array[];
            }

            /** Shape of a TradeExecuted. */
            type $Shape = waltz.example.TradeExecuted.$Properties;
        }

        /**
         * Properties of an OrderRejected.
         * @deprecated Use waltz.example.OrderRejected.$Properties instead.
         */
        interface IOrderRejected extends waltz.example.OrderRejected.$Properties {
        }

        /** Represents an OrderRejected. */
        class OrderRejected {

            /**
             * Constructs a new OrderRejected.
             * @param [properties] Properties to set
             */
            constructor(properties?: waltz.example.OrderRejected.$Properties);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];

            /** OrderRejected orderId. */
            orderId: string;

            /** OrderRejected reason. */
            reason: string;

            /** OrderRejected code. */
            code: number;

            /**
             * Creates a new OrderRejected instance using the specified properties.
             * @param [properties] Properties to set
             * @returns OrderRejected instance
             */
            static create(properties: waltz.example.OrderRejected.$Shape): waltz.example.OrderRejected & waltz.example.OrderRejected.$Shape;
            static create(properties?: waltz.example.OrderRejected.$Properties): waltz.example.OrderRejected;

            /**
             * Encodes the specified OrderRejected message. Does not implicitly {@link waltz.example.OrderRejected.verify|verify} messages.
             * @param message OrderRejected message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encode(message: waltz.example.OrderRejected.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Encodes the specified OrderRejected message, length delimited. Does not implicitly {@link waltz.example.OrderRejected.verify|verify} messages.
             * @param message OrderRejected message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encodeDelimited(message: waltz.example.OrderRejected.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes an OrderRejected message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns {waltz.example.OrderRejected & waltz.example.OrderRejected.$Shape} OrderRejected
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): waltz.example.OrderRejected & waltz.example.OrderRejected.$Shape;

            /**
             * Decodes an OrderRejected message from the specified reader or buffer, length delimited.
             * @param reader Reader or buffer to decode from
             * @returns {waltz.example.OrderRejected & waltz.example.OrderRejected.$Shape} OrderRejected
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decodeDelimited(reader: ($protobuf.Reader|Uint8Array)): waltz.example.OrderRejected & waltz.example.OrderRejected.$Shape;

            /**
             * Verifies an OrderRejected message.
             * @param message Plain object to verify
             * @returns `null` if valid, otherwise the reason why it is not
             */
            static verify(message: { [k: string]: any }): (string|null);

            /**
             * Creates an OrderRejected message from a plain object. Also converts values to their respective internal types.
             * @param object Plain object
             * @returns OrderRejected
             */
            static fromObject(object: { [k: string]: any }): waltz.example.OrderRejected;

            /**
             * Creates a plain object from an OrderRejected message. Also converts values to other types if specified.
             * @param message OrderRejected
             * @param [options] Conversion options
             * @returns Plain object
             */
            static toObject(message: waltz.example.OrderRejected, options?: $protobuf.IConversionOptions): { [k: string]: any };

            /**
             * Converts this OrderRejected to JSON.
             * @returns JSON object
             */
            toJSON(): { [k: string]: any };

            /**
             * Gets the type url for OrderRejected
             * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns The type url
             */
            static getTypeUrl(prefix?: string): string;
        }

        namespace OrderRejected {

            /** Properties of an OrderRejected. */
            interface $Properties {

                /** OrderRejected orderId */
                orderId?: (string|null);

                /** OrderRejected reason */
                reason?: (string|null);

                /** OrderRejected code */
                code?: (number|null);

                /** Unknown fields preserved while decoding when enabled */
                $unknowns?: Uint8Array[];
            }

            /** Shape of an OrderRejected. */
            type $Shape = waltz.example.OrderRejected.$Properties;
        }
    }
}
